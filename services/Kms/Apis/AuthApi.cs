using System.Text.Json.Nodes;
using Pii.Kms.Auth;
using Pii.Kms.Hosting;
using Pii.Kms.Http;

namespace Pii.Kms.Apis;

/// <summary>
/// The token auth subset: <c>auth/token/create</c>, <c>lookup-self</c>, <c>revoke</c>, <c>revoke-self</c>, and by
/// accessor (a token's public handle, so operators need not hold the token): LIST <c>accessors</c> (sudo),
/// <c>lookup-accessor</c>, <c>revoke-accessor</c>. Revoking takes the token's children with it (Vault's revoke-tree)
/// and is permanent: a token file holding a revoked token does not bring it back at the next start.
/// </summary>
public static class AuthApi
{
    private static readonly string[] Write = ["POST", "PUT"];

    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        var token = app.MapVaultGroup("/v1/auth/token");
        token.MapMethods("/create", Write, Create);
        token.MapGet("/lookup-self", LookupSelf);
        token.MapMethods("/revoke", Write, Revoke);
        token.MapMethods("/revoke-self", Write, RevokeSelf);
        token.MapMethods("/accessors", ["LIST"], ListAccessors);
        token.MapGet("/accessors", ListAccessorsOrUnsupported);
        token.MapMethods("/lookup-accessor", Write, LookupAccessor);
        token.MapMethods("/revoke-accessor", Write, RevokeAccessor);
        return app;
    }

    public static VaultResult Create(HttpContext context, KmsRuntime runtime, TimeProvider time)
    {
        var request = context.Vault();
        var caller = request.Token!;
        var f = new RequestFields(request, "policies", "id", "ttl", "display_name", "no_parent", "renewable", "meta", "no_default_policy", "explicit_max_ttl", "period", "num_uses", "type", "entity_alias", "role_name");
        var policies = f.StringList("policies") ?? [.. caller.Policies];
        policies = [.. policies.Where(p => p != PolicyEvaluator.Default).Distinct(StringComparer.Ordinal)];
        if (!caller.IsRoot)
        {
            var notHeld = policies.FirstOrDefault(p => !caller.Policies.Contains(p));
            if (notHeld is not null)
            {
                throw VaultException.BadRequest("child policies must be subset of parent");
            }
        }

        var id = f.GetString("id");
        if (id is not null && !caller.IsRoot)
        {
            throw VaultException.BadRequest("root or sudo privileges required to specify token id");
        }

        if (id is not null && (id.Length == 0 || runtime.Tokens.Exists(id)))
        {
            throw VaultException.BadRequest("cannot create a token with this id");
        }

        var orphan = f.GetBool("no_parent") == true;
        if (orphan && !caller.IsRoot)
        {
            throw VaultException.BadRequest("root or sudo privileges required to create orphan token");
        }

        var ttlSeconds = f.DurationSeconds("ttl");
        var token = id ?? TokenStore.NewToken();
        TokenEntry entry;
        try
        {
            entry = runtime.Tokens.Register(token, policies, ttlSeconds is > 0 ? TimeSpan.FromSeconds(ttlSeconds.Value) : null,
                f.GetString("display_name") ?? "token", orphan ? null : caller);
        }
        catch (InvalidOperationException)
        {
            throw VaultException.BadRequest("cannot create a token with this id");
        }

        var shown = ShownPolicies(entry);
        var auth = new JsonObject
        {
            ["client_token"] = token,
            ["accessor"] = entry.Accessor,
            ["policies"] = new JsonArray([.. shown.Select(p => (JsonNode)p)]),
            ["token_policies"] = new JsonArray([.. shown.Select(p => (JsonNode)p)]),
            ["metadata"] = null,
            ["lease_duration"] = Ttl(entry, time),
            ["renewable"] = false,
            ["entity_id"] = "",
            ["token_type"] = "service",
            ["orphan"] = orphan,
            ["mfa_requirement"] = null,
            ["num_uses"] = 0,
        };
        return VaultResult.Data(request, null, auth: auth, mountType: "token");
    }

    /// <summary>Vault answers 204 whether or not the token existed; only a missing <c>token</c> is an error.</summary>
    public static VaultResult Revoke(HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var token = new RequestFields(request, "token").GetString("token");
        if (string.IsNullOrEmpty(token))
        {
            throw VaultException.BadRequest("missing token ID");
        }

        runtime.Tokens.Revoke(token);
        return VaultResult.NoContent();
    }

    public static VaultResult RevokeSelf(HttpContext context, KmsRuntime runtime)
    {
        runtime.Tokens.Revoke(VaultPipeline.TokenOf(context.Request)!);
        return VaultResult.NoContent();
    }

    /// <summary>Vault asks for sudo on this path besides list: the accessors of every token are listed.</summary>
    public static VaultResult ListAccessors(HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        if (!runtime.Policies.Allows(request.Token!, request.Path, "sudo"))
        {
            throw VaultException.PermissionDenied(invalidToken: false);
        }

        return VaultResult.Data(request, new JsonObject { ["keys"] = new JsonArray([.. runtime.Tokens.Accessors().Select(a => (JsonNode)a)]) }, mountType: "token");
    }

    public static VaultResult ListAccessorsOrUnsupported(HttpContext context, KmsRuntime runtime) =>
        context.Vault().Operation == "list" ? ListAccessors(context, runtime) : VaultResult.Error(405, "unsupported operation");

    /// <summary>The token's properties as <c>lookup-self</c> shows them, with an empty <c>id</c> (as Vault).</summary>
    public static VaultResult LookupAccessor(HttpContext context, KmsRuntime runtime, TimeProvider time)
    {
        var request = context.Vault();
        return VaultResult.Data(request, TokenData(ByAccessor(request, runtime), "", time), mountType: "token");
    }

    public static VaultResult RevokeAccessor(HttpContext context, KmsRuntime runtime)
    {
        runtime.Tokens.Revoke(ByAccessor(context.Vault(), runtime));
        return VaultResult.NoContent();
    }

    public static VaultResult LookupSelf(HttpContext context, TimeProvider time)
    {
        var request = context.Vault();
        return VaultResult.Data(request, TokenData(request.Token!, VaultPipeline.TokenOf(context.Request)!, time), mountType: "token");
    }

    private static TokenEntry ByAccessor(VaultRequest request, KmsRuntime runtime)
    {
        var accessor = new RequestFields(request, "accessor").GetString("accessor");
        if (string.IsNullOrEmpty(accessor))
        {
            throw VaultException.BadRequest("missing accessor");
        }

        return runtime.Tokens.FindByAccessor(accessor) ?? throw VaultException.BadRequest("invalid accessor");
    }

    private static JsonObject TokenData(TokenEntry entry, string token, TimeProvider time)
    {
        var shown = ShownPolicies(entry);
        return new JsonObject
        {
            ["accessor"] = entry.Accessor,
            ["creation_time"] = entry.CreatedUnixSeconds,
            ["creation_ttl"] = entry.ExpiresUnixSeconds is { } e ? e - entry.CreatedUnixSeconds : 0,
            ["display_name"] = entry.DisplayName,
            ["entity_id"] = "",
            ["expire_time"] = entry.ExpiresUnixSeconds is { } exp ? DateTimeOffset.FromUnixTimeSeconds(exp).ToString("O") : null,
            ["explicit_max_ttl"] = 0,
            ["id"] = token,
            ["issue_time"] = DateTimeOffset.FromUnixTimeSeconds(entry.CreatedUnixSeconds).ToString("O"),
            ["meta"] = null,
            ["num_uses"] = 0,
            ["orphan"] = entry.ParentHash is null,
            ["path"] = entry.IsRoot ? "auth/token/root" : "auth/token/create",
            ["policies"] = new JsonArray([.. shown.Select(p => (JsonNode)p)]),
            ["renewable"] = false,
            ["ttl"] = Ttl(entry, time),
            ["type"] = "service",
        };
    }

    private static List<string> ShownPolicies(TokenEntry entry) =>
        entry.IsRoot ? [PolicyEvaluator.Root] : [.. entry.Policies.Append(PolicyEvaluator.Default).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    private static long Ttl(TokenEntry entry, TimeProvider time) =>
        entry.ExpiresUnixSeconds is { } e ? Math.Max(0, e - time.GetUtcNow().ToUnixTimeSeconds()) : 0;
}
