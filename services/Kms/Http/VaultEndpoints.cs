using Microsoft.AspNetCore.Routing.Patterns;

namespace Pii.Kms.Http;

/// <summary>Marks an endpoint as part of the Vault API: the Vault pipeline owns every call to it.</summary>
public sealed class VaultEndpointMetadata
{
    public static readonly VaultEndpointMetadata Instance = new();

    private VaultEndpointMetadata()
    {
    }
}

/// <summary>
/// Vault API endpoint groups. Every group is marked for the <see cref="VaultPipeline"/> and carries a filter that refuses
/// (404, handler not called) any call the pipeline did not admit, so a handler cannot run without the token, ACL and
/// audit steps, whatever routed the request to it.
/// </summary>
public static class VaultEndpoints
{
    public static RouteGroupBuilder MapVaultGroup(this IEndpointRouteBuilder app, string prefix)
    {
        var group = app.MapGroup(prefix);
        group.WithMetadata(VaultEndpointMetadata.Instance);
        group.AddEndpointFilter(RequireAdmitted);
        return group;
    }

    /// <summary>
    /// Whether <paramref name="pattern"/> matches the request path's <paramref name="segments"/> as Vault's router would:
    /// literal segments compared case-sensitively (ASP.NET routing ignores case), one segment per parameter, no empty
    /// segment and no encoded slash inside a parameter (Vault decodes %2F into a separator, so such a path names another
    /// route). A pattern shape this service does not use (several parts in one segment) never matches.
    /// </summary>
    public static bool MatchesExactly(RoutePattern pattern, IReadOnlyList<string> segments)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(segments);
        var patternSegments = pattern.PathSegments;
        for (var i = 0; i < patternSegments.Count; i++)
        {
            if (patternSegments[i].Parts is not [var part])
            {
                return false;
            }

            switch (part)
            {
                case RoutePatternParameterPart { IsCatchAll: true }:
                    return i == patternSegments.Count - 1 && segments.Skip(i).All(IsPlainSegment);
                case RoutePatternLiteralPart literal when i < segments.Count && string.Equals(literal.Content, segments[i], StringComparison.Ordinal):
                    break;
                case RoutePatternParameterPart when i < segments.Count && IsPlainSegment(segments[i]):
                    break;
                default:
                    return false;
            }
        }

        return segments.Count == patternSegments.Count;
    }

    private static bool IsPlainSegment(string segment) => segment.Length > 0 && !segment.Contains('%', StringComparison.Ordinal);

    private static async ValueTask<object?> RequireAdmitted(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        context.HttpContext.Features.Get<VaultRequest>() is { Admitted: true } ? await next(context).ConfigureAwait(false) : Results.NotFound();
}
