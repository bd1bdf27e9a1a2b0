using Microsoft.AspNetCore.Http.HttpResults;
using Pii.FormApi.Auth;
using Pii.FormApi.Data;
using Pii.FormApi.Keys;

namespace Pii.FormApi.Apis;

internal sealed record DekDestroyed(int DekId, DateTime DestroyedAt);

/// <summary>Key operations for the <c>admin</c> role (back office only). Each one is written to the access log.</summary>
internal static class KeysApi
{
    public static RouteGroupBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api/keys").WithTags("Key operations").RequiresApiKey().AddEndpointFilter(new RequireRole("admin"));
        api.MapPost("/rotate-kek", RotateKekAsync)
            .WithName("RotateKek")
            .WithSummary("Rotate the dnc KEK in the key service and rewrap every stored DEK (no data row changes)");
        api.MapPost("/rotate-dek", RotateDekAsync)
            .WithName("RotateDek")
            .WithSummary("Make a new DEK, retire the active ones and start the background re-encryption job");
        api.MapGet("/jobs/{id:guid}", GetJobAsync)
            .WithName("GetReencryptionJob")
            .WithSummary("Progress of a re-encryption job");
        api.MapPost("/deks/{id:int}/destroy", DestroyDekAsync)
            .WithName("DestroyDek")
            .WithSummary("Erase a retired DEK's wrapped form once no row uses it; the time is recorded");
        return api;
    }

    public static async Task<Ok<KekRotationReport>> RotateKekAsync(HttpContext context, KeyOperations keys, AccessLog log, CancellationToken cancellationToken)
    {
        var report = await keys.RotateKekAsync(cancellationToken);
        await Log(context, log, "rotate-kek", $"kek:dnc:v{report.KekVersion}", report.Failed == 0 ? "ok" : "partial", cancellationToken);
        return TypedResults.Ok(report);
    }

    public static async Task<Accepted<DekRotationReport>> RotateDekAsync(HttpContext context, KeyOperations keys, ReencryptionWorker worker, AccessLog log, CancellationToken cancellationToken)
    {
        var report = await keys.RotateDekAsync(cancellationToken);
        worker.Wake();
        await Log(context, log, "rotate-dek", $"dek:{report.NewDekId}", "ok", cancellationToken);
        return TypedResults.Accepted($"/api/keys/jobs/{report.JobId}", report);
    }

    public static async Task<Results<Ok<ReencryptionJob>, NotFound>> GetJobAsync(Guid id, ReencryptionJobs jobs, CancellationToken cancellationToken) =>
        await jobs.GetAsync(id, cancellationToken) is { } job ? TypedResults.Ok(job) : TypedResults.NotFound();

    public static async Task<Results<Ok<DekDestroyed>, NotFound, ProblemHttpResult>> DestroyDekAsync(int id, HttpContext context, KeyOperations keys, AccessLog log, CancellationToken cancellationToken)
    {
        var (outcome, destroyedAt, rows, quarantined) = await keys.DestroyDekAsync(id, cancellationToken);
        await Log(context, log, "destroy-dek", $"dek:{id}", outcome.ToString().ToLowerInvariant(), cancellationToken);
        return outcome switch
        {
            DestroyOutcome.Destroyed or DestroyOutcome.AlreadyDestroyed => TypedResults.Ok(new DekDestroyed(id, destroyedAt!.Value)),
            DestroyOutcome.NotFound => TypedResults.NotFound(),
            DestroyOutcome.StillActive => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The DEK is still active; rotate it first."),
            _ => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict,
                title: quarantined > 0
                    ? $"{rows} rows are still encrypted under this DEK, {quarantined} of them quarantined by a re-encryption job (they do not decrypt); repair or erase them first."
                    : $"{rows} rows are still encrypted under this DEK; wait for the re-encryption job.",
                extensions: new Dictionary<string, object?> { ["rows_using_it"] = rows, ["rows_quarantined"] = quarantined }),
        };
    }

    private static Task Log(HttpContext context, AccessLog log, string action, string fields, string outcome, CancellationToken cancellationToken)
    {
        var caller = RequireRole.CallerOf(context);
        return log.WriteAsync(new AccessEntry(caller.Role, caller.KeyFingerprint, action, null, fields, null, outcome, caller.ClientIp), cancellationToken);
    }
}
