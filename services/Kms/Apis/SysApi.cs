using System.Globalization;
using System.Text.Json.Nodes;
using Pii.Kms.Hosting;
using Pii.Kms.Http;

namespace Pii.Kms.Apis;

/// <summary><c>sys/health</c> (unauthenticated, bare JSON body, status as signal) and <c>sys/policies/acl</c>.</summary>
public static class SysApi
{
    public const string Version = "1.15.0+pii-kms";
    private static readonly string[] Write = ["POST", "PUT"];
    private static readonly string ClusterId = Guid.NewGuid().ToString();
    private static readonly string[] OverrideCodes =
        ["activecode", "standbycode", "sealedcode", "uninitcode", "drsecondarycode", "performancestandbycode", "haunhealthycode", "removedcode"];

    public static IEndpointRouteBuilder MapSysApi(this IEndpointRouteBuilder app)
    {
        var sys = app.MapVaultGroup("/v1/sys");
        sys.MapMethods("/health", ["GET", "HEAD"], Health);
        sys.MapMethods("/policies/acl", ["LIST"], ListPolicies);
        sys.MapGet("/policies/acl", (HttpContext c, KmsRuntime r) => c.Vault().Operation == "list" ? ListPolicies(c, r) : VaultResult.Error(405, "unsupported operation"));
        sys.MapGet("/policies/acl/{name}", ReadPolicy);
        sys.MapMethods("/policies/acl/{name}", Write, WritePolicy);
        sys.MapDelete("/policies/acl/{name}", DeletePolicy);
        sys.MapMethods("/audit-hash/{**device}", Write, AuditHash);
        return app;
    }

    public static VaultResult Health(HttpContext context, KmsRuntime runtime, TimeProvider time)
    {
        int Code(string name, int fallback)
        {
            var text = context.Request.Query[name].ToString();
            if (text.Length == 0)
            {
                return fallback;
            }

            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var code)
                ? code
                : throw VaultException.BadRequest($"bad code: {name}");
        }

        int status;
        try
        {
            // Every override is validated even though this single active node only ever uses two of them.
            foreach (var name in OverrideCodes)
            {
                Code(name, 0);
            }

            status = runtime.IsSealed ? Code("sealedcode", 503) : Code("activecode", 200);
        }
        catch (VaultException e)
        {
            return VaultResult.Error(e.StatusCode, e.Message);
        }

        var body = new JsonObject
        {
            ["initialized"] = true,
            ["sealed"] = runtime.IsSealed,
            ["standby"] = false,
            ["performance_standby"] = false,
            ["replication_performance_mode"] = "disabled",
            ["replication_dr_mode"] = "disabled",
            ["server_time_utc"] = time.GetUtcNow().ToUnixTimeSeconds(),
            ["version"] = Version,
            ["enterprise"] = false,
            ["cluster_name"] = "pii-kms",
            ["echo_duration_ms"] = 0,
            ["clock_skew_ms"] = 0,
        };
        if (!runtime.IsSealed)
        {
            body["cluster_id"] = ClusterId;
        }

        return VaultResult.Raw(status, body);
    }

    /// <summary>
    /// Vault's <c>sys/audit-hash/:path</c> for the one file device (path <c>file</c>, as Vault names a file device by
    /// default). The hash is in <c>data</c> and, as Vault's API documentation shows it, at the top level too.
    /// </summary>
    public static VaultResult AuditHash(string device, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var input = new RequestFields(request, "input").GetString("input");
        if (string.IsNullOrEmpty(input))
        {
            throw VaultException.BadRequest("the \"input\" parameter is empty");
        }

        var path = device.TrimEnd('/') + "/";
        if (path != "file/" || runtime.Audit is not { } audit)
        {
            throw VaultException.BadRequest($"unknown audit backend \"{path}\"");
        }

        var hash = audit.Hash(input);
        var result = VaultResult.Data(request, new JsonObject { ["hash"] = hash }, mountType: "system");
        result.Body!["hash"] = hash;
        return result;
    }

    public static VaultResult ListPolicies(HttpContext context, KmsRuntime runtime)
    {
        var names = runtime.Policies.Names();
        return VaultResult.Data(context.Vault(), new JsonObject
        {
            ["keys"] = new JsonArray([.. names.Select(n => (JsonNode)n)]),
            ["policies"] = new JsonArray([.. names.Select(n => (JsonNode)n)]),
        }, mountType: "system");
    }

    public static VaultResult ReadPolicy(string name, HttpContext context, KmsRuntime runtime)
    {
        var text = runtime.Policies.GetText(name);
        return text is null
            ? VaultResult.Error(404)
            : VaultResult.Data(context.Vault(), new JsonObject { ["name"] = name, ["policy"] = text }, mountType: "system");
    }

    public static VaultResult WritePolicy(string name, HttpContext context, KmsRuntime runtime)
    {
        var f = new RequestFields(context.Vault(), "policy", "name");
        var text = f.GetString("policy");
        if (string.IsNullOrWhiteSpace(text))
        {
            throw VaultException.BadRequest("'policy' parameter not supplied or empty");
        }

        runtime.Policies.Put(name.ToLowerInvariant(), text);
        return VaultResult.NoContent();
    }

    public static VaultResult DeletePolicy(string name, KmsRuntime runtime)
    {
        runtime.Policies.Delete(name.ToLowerInvariant());
        return VaultResult.NoContent();
    }
}
