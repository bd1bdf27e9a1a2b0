using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pii.FormApi.Auth;
using Pii.FormApi.Data;

namespace Pii.FormApi.Apis;

/// <summary>The access log for the <c>auditor</c> role: who read or revealed which record's which fields, when, why, from where.</summary>
internal static class AuditApi
{
    private const int MaxLimit = 1000;

    public static RouteGroupBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api/audit").WithTags("Audit").RequiresApiKey().AddEndpointFilter(new RequireRole("auditor"));
        api.MapGet("/", ReadAsync)
            .WithName("ReadAccessLog")
            .WithSummary("Access-log entries, newest first; filter by record_id, page with before=<entry id>");
        return api;
    }

    public static async Task<Results<Ok<IReadOnlyList<AccessLogEntry>>, ValidationProblem>> ReadAsync(
        [FromQuery(Name = "record_id")] Guid? recordId, [FromQuery] long? before, [FromQuery] int? limit, HttpContext context, AccessLog log, CancellationToken cancellationToken)
    {
        if (limit is < 1 or > MaxLimit)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"Must be 1 to {MaxLimit}."] }, title: "Invalid field: limit");
        }
        var caller = RequireRole.CallerOf(context);
        var entries = await log.ReadAsync(recordId, before, limit ?? 100, cancellationToken);
        await log.WriteAsync(new AccessEntry(caller.Role, caller.KeyFingerprint, "audit-read", recordId, "pii_access_log", null, "ok", caller.ClientIp), cancellationToken);
        return TypedResults.Ok(entries);
    }
}
