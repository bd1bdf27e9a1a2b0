using System.Security.Cryptography;
using System.Text;

namespace Pii.EtlWorker.Auth;

/// <summary>
/// Role API keys as the AppHost injects them: <c>Auth:ApiKeyHashes:&lt;role&gt;</c> = lower-case hex SHA-256 of the key.
/// A presented key is hashed and compared with every role's hash in constant time (all roles are always compared).
/// </summary>
public sealed class ApiKeyRoles
{
    public const string HeaderName = "X-Api-Key";
    private readonly List<(string Role, byte[] Hash)> _roles = [];

    public ApiKeyRoles(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        foreach (var entry in configuration.GetSection("Auth:ApiKeyHashes").GetChildren())
        {
            if (entry.Value is { Length: 64 } hex)
            {
                _roles.Add((entry.Key, Convert.FromHexString(hex)));
            }
        }
    }

    /// <summary>The role whose key this is, or null.</summary>
    public string? RoleOf(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            return null;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        string? role = null;
        foreach (var (name, expected) in _roles)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, expected))
            {
                role = name;
            }
        }

        return role;
    }
}

/// <summary>Endpoint filter: 401 without a known key, 403 with a key of another role (problem details either way).</summary>
public sealed class RequireApiKeyRole(string role) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var roles = context.HttpContext.RequestServices.GetRequiredService<ApiKeyRoles>();
        var presented = roles.RoleOf(context.HttpContext.Request.Headers[ApiKeyRoles.HeaderName].ToString());
        if (presented is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: $"Send a valid key in {ApiKeyRoles.HeaderName}.");
        }

        if (!string.Equals(presented, role, StringComparison.Ordinal))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: $"This route needs the '{role}' role.");
        }

        return await next(context).ConfigureAwait(false);
    }
}
