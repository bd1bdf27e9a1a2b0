using Microsoft.AspNetCore.Http.HttpResults;
using Pii.DocumentService.Auth;

namespace Pii.DocumentService.Audit;

/// <summary>The access log, for auditors only.</summary>
internal static class AuditApi
{
    public static RouteGroupBuilder MapAuditApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("api/audit").WithTags("Audit").AddEndpointFilter<DependencyFailureFilter>();
        api.MapGet("access-log", ReadAsync).RequireAuthorization(Roles.Auditor)
            .WithName("AccessLog").WithSummary("Access-log entries after an id, optionally for one document or patient.");
        return api;
    }

    public static async Task<Ok<IReadOnlyList<AccessEntry>>> ReadAsync(
        AccessLog log, long? after, int? limit, Guid? documentId, Guid? patientId, CancellationToken cancellationToken) =>
        TypedResults.Ok(await log.ReadAsync(after ?? 0, Math.Clamp(limit ?? 100, 1, 1000), documentId, patientId, cancellationToken));
}
