using System.Security.Cryptography;
using System.Text;
using Pii.FormApi.Data;

namespace Pii.FormApi.Auth;

/// <summary>An authenticated caller: the role its key maps to and a fingerprint of the key for the access log.</summary>
internal sealed record Caller(string Role, string KeyFingerprint, string? ClientIp);

/// <summary>
/// <c>X-Api-Key</c> authentication against <c>Auth:ApiKeyHashes:&lt;role&gt;</c> (lower-case hex SHA-256 of the key, as the
/// AppHost injects them). The presented key's hash is compared with every role's hash in constant time, without an
/// early exit, so timing tells nothing about which (or whether a) role matched.
/// </summary>
internal sealed class ApiKeyAuthenticator
{
    public const string HeaderName = "X-Api-Key";
    private const int MaxKeyLength = 256;
    private readonly (string Role, byte[] Hash)[] _roles;

    public ApiKeyAuthenticator(IConfiguration configuration)
    {
        _roles = [.. configuration.GetSection("Auth:ApiKeyHashes").GetChildren()
            .Where(c => !string.IsNullOrEmpty(c.Value))
            .Select(c => (c.Key, Convert.FromHexString(c.Value!)))];
    }

    public Caller? Authenticate(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var presented = context.Request.Headers[HeaderName].ToString();
        if (presented.Length is 0 or > MaxKeyLength)
        {
            return null;
        }
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        string? match = null;
        foreach (var (role, expected) in _roles)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, expected))
            {
                match = role;
            }
        }
        // The fingerprint identifies the key in the log without being the stored hash: SHA-256 over the hash, 8 bytes.
        return match is null ? null : new Caller(match, Convert.ToHexStringLower(SHA256.HashData(hash).AsSpan(0, 8)), context.Connection.RemoteIpAddress?.ToString());
    }
}

/// <summary>
/// Endpoint filter: 401 without a valid key; 403 (and an access-log "denied" entry) when the key's role is not one of
/// <paramref name="roles"/>. The caller is left in <see cref="HttpContext.Items"/> for the handler.
/// </summary>
internal sealed class RequireRole(params string[] roles) : IEndpointFilter
{
    public static Caller CallerOf(HttpContext context) => (Caller)context.Items[typeof(Caller)]!;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var http = context.HttpContext;
        var caller = http.RequestServices.GetRequiredService<ApiKeyAuthenticator>().Authenticate(http);
        if (caller is null)
        {
            http.Response.Headers.WWWAuthenticate = "ApiKey header=\"X-Api-Key\"";
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "A valid X-Api-Key is required.");
        }
        http.Items[typeof(Caller)] = caller;
        if (!roles.Contains(caller.Role, StringComparer.Ordinal))
        {
            var endpoint = http.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName ?? "unknown";
            var recordId = http.Request.RouteValues.TryGetValue("id", out var raw) && Guid.TryParse(raw as string, out var parsed) ? parsed : (Guid?)null;
            await http.RequestServices.GetRequiredService<AccessLog>().WriteAsync(
                new AccessEntry(caller.Role, caller.KeyFingerprint, "denied", recordId, endpoint, null, "denied", caller.ClientIp), http.RequestAborted);
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: $"The role '{caller.Role}' may not call {endpoint}.");
        }
        return await next(context);
    }
}
