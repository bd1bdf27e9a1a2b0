using Pii.FormApi.Data;
using Pii.ServiceDefaults.Auth;

namespace Pii.FormApi.Auth;

/// <summary>An authenticated caller: the role its key maps to and a fingerprint of the key for the access log.</summary>
internal sealed record Caller(string Role, string KeyFingerprint, string? ClientIp);

/// <summary><c>X-Api-Key</c> authentication through the shared <see cref="ApiKeyRoles"/>, plus the caller's address.</summary>
internal sealed class ApiKeyAuthenticator(ApiKeyRoles roles)
{
    public const string HeaderName = ApiKeyRoles.HeaderName;

    public Caller? Authenticate(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var match = roles.Match(context.Request.Headers[HeaderName].ToString());
        return match is null ? null : new Caller(match.Role, match.KeyFingerprint, context.Connection.RemoteIpAddress?.ToString());
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
