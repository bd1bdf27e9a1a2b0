using Pii.ServiceDefaults.Auth;

namespace Pii.EtlWorker.Auth;

/// <summary>Endpoint filter: 401 without a known key, 403 with a key of another role (problem details either way).</summary>
public sealed class RequireApiKeyRole(string role) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        var roles = context.HttpContext.RequestServices.GetRequiredService<ApiKeyRoles>();
        var presented = roles.Match(context.HttpContext.Request.Headers[ApiKeyRoles.HeaderName].ToString())?.Role;
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
