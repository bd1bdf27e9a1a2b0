using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Pii.Kms.Hosting;
using Pii.Kms.Http;

namespace Pii.Kms.Tests;

/// <summary>
/// No request reaches a handler without the token, ACL and audit steps, however its path is spelled. Runs on real
/// Kestrel (its path decoding and dot-segment removal are part of what is tested), with raw request targets.
/// </summary>
public sealed class PipelineBypassTests : IDisposable
{
    private static readonly string[] ServicePolicies = ["dnc-intake", "etl", "dnc-backoffice", "documents", "backups"];
    private static readonly string[] UnusualMethods = ["HEAD", "OPTIONS", "PATCH", "PROPFIND"];
    private const string BogusToken = "hvs.AAAAAAAAAAAAAAAAAAAAAAAA";
    private readonly KmsServerFixture _server = new(withMasterKey: true, auditPath: null, kestrelPort: KmsProcess.FreePort());
    private long _auditOffset;

    public void Dispose() => _server.Dispose();

    [Fact]
    public async Task The_reported_upper_case_attacks_are_refused_audited_and_change_nothing()
    {
        await CreateVictim();
        var before = await Snapshot();
        _auditOffset = new FileInfo(_server.AuditPath).Length;

        var deletePolicy = await Send("DELETE", "/V1/sys/policies/acl/documents", null);
        Assert.Equal(403, deletePolicy.Status);
        AssertAudited("delete", "V1/sys/policies/acl/documents", 403);

        var deleteKey = await Send("DELETE", "/V1/transit/keys/victim", null);
        Assert.Equal(403, deleteKey.Status);
        AssertAudited("delete", "V1/transit/keys/victim", 403);

        // Existence must not leak: a present and an absent policy answer alike.
        var present = await Send("GET", "/V1/sys/policies/acl/documents", null);
        AssertAudited("read", "V1/sys/policies/acl/documents", 403);
        var absent = await Send("GET", "/V1/sys/policies/acl/no-such-policy", null);
        AssertAudited("read", "V1/sys/policies/acl/no-such-policy", 403);
        Assert.Equal((403, present.Body), (absent.Status, absent.Body));

        // Even root gets no handler for a path Vault does not have.
        Assert.Equal(404, (await Send("DELETE", "/V1/sys/policies/acl/documents", _server.RootToken)).Status);
        AssertAudited("delete", "V1/sys/policies/acl/documents", 404);
        Assert.Equal(404, (await Send("DELETE", "/V1/transit/keys/victim", _server.RootToken)).Status);
        AssertAudited("delete", "V1/transit/keys/victim", 404);

        Assert.Equal(before, await Snapshot());
        Assert.Equal(200, (await _server.AsRoot("GET", "sys/policies/acl/documents")).Status);
        Assert.Equal(200, (await _server.AsRoot("GET", "transit/keys/victim")).Status);
    }

    [Fact]
    public async Task Every_route_in_every_spelling_goes_through_token_acl_and_audit_and_never_reaches_its_handler()
    {
        await CreateVictim();
        var canary = await _server.TokenWith("operator");
        var canaryAccessor = (await _server.Send("GET", "auth/token/lookup-self", canary)).Data["accessor"]!.GetValue<string>();
        var tokens = new List<(string Label, string? Token)> { ("none", null), ("bogus", BogusToken), ("root", _server.RootToken) };
        foreach (var policy in ServicePolicies)
        {
            tokens.Add((policy, await _server.TokenWith(policy)));
        }

        // Every field some handler would act on, so a handler reached by mistake would change something visible.
        var body = new JsonObject
        {
            ["policy"] = "path \"*\" { capabilities = [\"create\", \"read\", \"update\", \"delete\", \"list\", \"sudo\"] }",
            ["plaintext"] = "aGk=",
            ["input"] = "aGk=",
            ["deletion_allowed"] = true,
            ["min_decryption_version"] = 1,
            ["min_available_version"] = 1,
            ["policies"] = new JsonArray("root"),
            ["no_parent"] = true,
            ["token"] = canary,
            ["accessor"] = canaryAccessor,
            ["disable_upsert"] = true,
        }.ToJsonString();

        var routes = _server.Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<VaultEndpointMetadata>() is not null).ToList();
        Assert.True(routes.Count >= 30, $"only {routes.Count} Vault routes found");
        var runtime = _server.Factory.Services.GetRequiredService<KmsRuntime>();
        var before = await Snapshot();
        _auditOffset = new FileInfo(_server.AuditPath).Length;
        var sent = 0;
        foreach (var route in routes)
        {
            var methods = route.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET", "POST", "DELETE", "LIST"];
            foreach (var target in Spellings(route.RoutePattern))
            {
                foreach (var method in methods)
                {
                    foreach (var (label, token) in tokens)
                    {
                        await AttackOnce(runtime, method, target, label, token, body);
                        sent++;
                    }
                }

                foreach (var method in UnusualMethods)
                {
                    foreach (var (label, token) in tokens.Where(t => t.Label is "none" or "root" or "etl"))
                    {
                        await AttackOnce(runtime, method, target, label, token, body);
                        sent++;
                    }
                }
            }
        }

        Assert.True(sent > 3000, $"only {sent} requests sent");
        Assert.Equal(before, await Snapshot());
    }

    [Fact]
    public async Task A_handler_called_without_the_pipeline_refuses_and_changes_nothing()
    {
        await CreateVictim();
        var before = await Snapshot();
        var routes = _server.Factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<VaultEndpointMetadata>() is not null).ToList();
        Assert.True(routes.Count >= 30, $"only {routes.Count} Vault routes found");
        foreach (var route in routes)
        {
            foreach (var method in route.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["DELETE"])
            {
                using var scope = _server.Factory.Services.CreateScope();
                var context = new Microsoft.AspNetCore.Http.DefaultHttpContext { RequestServices = scope.ServiceProvider };
                context.Request.Method = method;
                context.Request.Path = "/" + string.Join('/', route.RoutePattern.PathSegments.Select(s => s.Parts[0] switch
                {
                    RoutePatternLiteralPart literal => literal.Content,
                    RoutePatternParameterPart parameter => ValueFor(parameter.Name, route.RoutePattern),
                    _ => "",
                }));
                foreach (var parameter in route.RoutePattern.Parameters)
                {
                    context.Request.RouteValues[parameter.Name] = ValueFor(parameter.Name, route.RoutePattern);
                }

                context.Response.Body = new MemoryStream();
                await route.RequestDelegate!(context);
                Assert.True(context.Response.StatusCode == 404, $"{method} {route.RoutePattern.RawText}: {context.Response.StatusCode}");
            }
        }

        Assert.Equal(before, await Snapshot());
    }

    private async Task AttackOnce(KmsRuntime runtime, string method, string target, string label, string? token, string body)
    {
        var reply = await Send(method, target, token, method is "GET" or "HEAD" or "DELETE" or "LIST" ? null : body);
        var (operation, path) = AuditedExchange(reply.Status, $"{method} {target} as {label}");
        var entry = runtime.Tokens.Resolve(token);
        // Past the ACL no route handler may answer: only the pipeline's 404, or the /v1 catch-all's 404/405 for a path
        // inside a mount (that catch-all is itself a Vault endpoint and changes nothing).
        var allowed = entry is not null && runtime.Policies.Allows(entry, path, operation);
        Assert.True(allowed ? reply.Status is 404 or 405 : reply.Status == 403,
            $"{method} {target} as {label}: {reply.Status} {reply.Body}, ACL {(allowed ? "allows" : "denies")} '{path}' ({operation})");
    }

    /// <summary>The request's path in spellings the router might accept but Vault would not serve (case, slashes, encodings, dot segments).</summary>
    private static IEnumerable<string> Spellings(RoutePattern pattern)
    {
        var segments = pattern.PathSegments.Select(s => s.Parts[0] switch
        {
            RoutePatternLiteralPart literal => (Text: literal.Content, Literal: true),
            RoutePatternParameterPart parameter => (Text: ValueFor(parameter.Name, pattern), Literal: false),
            _ => throw new InvalidOperationException("unexpected route part"),
        }).ToList();
        var rest = string.Join('/', segments.Skip(1).Select(s => s.Text));
        var capitalised = char.ToUpperInvariant(rest[0]) + rest[1..];
        yield return "/V1/" + rest;
        yield return "/%56%31/" + rest;
        yield return "/v1/" + capitalised;
        var lastLiteral = segments.FindLastIndex(s => s.Literal);
        if (lastLiteral > 0)
        {
            yield return "/" + string.Join('/', segments.Select((s, i) => i == lastLiteral ? s.Text.ToUpperInvariant() : s.Text));
        }

        yield return "//v1/" + rest;
        yield return "/v1//" + rest;
        yield return "/v1/" + rest + "//";
        yield return "/v1/" + rest + "%2F";
        yield return "/v1/" + rest.Replace("/", "%2F", StringComparison.Ordinal);
        yield return "/v1/" + rest.Replace("/", "%2f/", StringComparison.Ordinal);
        yield return "/v1/" + segments[1].Text + "/%2e%2e%2F" + rest;
        yield return "/v1/x/%2e%2e/" + capitalised;
        yield return "/v1/x/../" + capitalised;
    }

    private static string ValueFor(string parameter, RoutePattern pattern) => parameter switch
    {
        "name" when pattern.RawText!.Contains("policies", StringComparison.Ordinal) => "documents",
        "name" => "victim",
        "type" => "plaintext",
        "algorithm" => "sha2-256",
        "device" => "file",
        "version" => "1",
        "rest" => "transit/keys/victim",
        _ => throw new InvalidOperationException("no test value for route parameter " + parameter),
    };

    private async Task CreateVictim()
    {
        Assert.Equal(200, (await _server.AsRoot("POST", "transit/keys/victim")).Status);
        Assert.Equal(200, (await _server.AsRoot("POST", "transit/keys/victim/config", new { deletion_allowed = true })).Status);
    }

    /// <summary>Everything a handler could change: policies, keys (with config and versions), tokens, mount config.</summary>
    private async Task<string> Snapshot()
    {
        var state = new StringBuilder();
        foreach (var name in (await _server.AsRoot("LIST", "sys/policies/acl")).Data["keys"]!.AsArray())
        {
            state.Append(name).Append('=').Append((await _server.AsRoot("GET", "sys/policies/acl/" + name)).Data["policy"]).Append('\n');
        }

        foreach (var name in (await _server.AsRoot("LIST", "transit/keys")).Data["keys"]!.AsArray())
        {
            state.Append(name).Append('=').Append((await _server.AsRoot("GET", "transit/keys/" + name)).Data.ToJsonString()).Append('\n');
        }

        state.Append((await _server.AsRoot("LIST", "auth/token/accessors")).Data.ToJsonString()).Append('\n');
        state.Append((await _server.AsRoot("GET", "transit/config/keys")).Data.ToJsonString());
        return state.ToString();
    }

    private Task<(int Status, string Body)> Send(string method, string target, string? token, string? body = null) =>
        RawHttp.SendAsync(_server.Address!, method, target, token, body);

    private void AssertAudited(string operation, string path, int status)
    {
        var (loggedOperation, loggedPath) = AuditedExchange(status, $"{operation} {path}");
        Assert.Equal((operation, path), (loggedOperation, loggedPath));
    }

    /// <summary>The two audit lines the last request added (request, then response with its status); returns what was logged.</summary>
    private (string Operation, string Path) AuditedExchange(int status, string what)
    {
        using var file = new FileStream(_server.AuditPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        file.Seek(_auditOffset, SeekOrigin.Begin);
        using var reader = new StreamReader(file);
        var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        _auditOffset = file.Length;
        Assert.True(lines.Count == 2, $"{what}: {lines.Count} audit lines");
        Assert.Equal("request", lines[0]["type"]!.GetValue<string>());
        Assert.Equal("response", lines[1]["type"]!.GetValue<string>());
        Assert.Equal(status, lines[1]["response"]!["status_code"]!.GetValue<int>());
        var request = lines[0]["request"]!;
        Assert.Equal(request["id"]!.GetValue<string>(), lines[1]["request"]!["id"]!.GetValue<string>());
        return (request["operation"]!.GetValue<string>(), request["path"]!.GetValue<string>());
    }
}
