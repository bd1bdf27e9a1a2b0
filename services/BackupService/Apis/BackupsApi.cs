using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Pii.BackupService.Auth;
using Pii.BackupService.Backups;
using Pii.BackupService.Scheduling;

namespace Pii.BackupService.Apis;

public sealed record StartBackupRequest(string? Source);
public sealed record BackupStarted(Guid Id);
public sealed record RestoreRequest(string? Target, string? Confirm);
public sealed record HoldRequest(string? Reason);

internal sealed record BackupView(
    Guid Id, string Source, string State, string? ObjectKey, long BytesDone, double Rate, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt,
    bool KeyServiceUnavailable, string? FailureReason, Manifest? Manifest);

/// <summary>Everything a handler needs, bundled for [AsParameters].</summary>
internal sealed class BackupServices(
    BackupSources sources, BackupCatalog catalog, BackupRunner runner, RestoreRunner restores, BackupRepository repository, AuditTrail audit,
    BackupTelemetry telemetry, BackupSchedule schedule, RetentionPruner pruner, BackupScheduler drills, TimeProvider time)
{
    public BackupSources Sources { get; } = sources;
    public BackupCatalog Catalog { get; } = catalog;
    public BackupRunner Runner { get; } = runner;
    public RestoreRunner Restores { get; } = restores;
    public BackupRepository Repository { get; } = repository;
    public AuditTrail Audit { get; } = audit;
    public BackupTelemetry Telemetry { get; } = telemetry;
    public BackupSchedule Schedule { get; } = schedule;
    public RetentionPruner Pruner { get; } = pruner;
    public BackupScheduler Drills { get; } = drills;
    public TimeProvider Time { get; } = time;
}

/// <summary>Backups, verify, restore, legal holds, schedules and pruning; role <c>operator</c>; problem details for every error.</summary>
internal static class BackupsApi
{
    public static RouteGroupBuilder MapBackupsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api/backups").WithTags("Backups").RequireAuthorization(Roles.Operator).AddEndpointFilter<DependencyFailureFilter>();
        api.MapPost("", StartAsync).WithName("StartBackup").WithSummary("Starts a backup of a source (records, analytics, dnc); 202 with its id.");
        api.MapGet("", ListAsync).WithName("ListBackups").WithSummary("Backups (completed, failed, running), newest first; optionally of one source.");
        api.MapGet("schedules", GetSchedules).WithName("GetSchedules").WithSummary("Backup and drill schedules, their next runs, and the retention policy.");
        api.MapGet("{id:guid}", GetAsync).WithName("GetBackup").WithSummary("One backup: state, object key, progress, manifest.");
        api.MapPost("{id:guid}/verify", VerifyAsync).WithName("VerifyBackup")
            .WithSummary("Streams the backup, authenticates every frame, decompresses and checks the keyed hash against the manifest.");
        api.MapPost("{id:guid}/restore", RestoreAsync).WithName("RestoreBackup")
            .WithSummary("Restores into a scratch database (default) or in place (confirm = the source name); row counts checked, erasures re-applied.");
        api.MapPut("{id:guid}/hold", HoldAsync).WithName("PlaceLegalHold").WithSummary("Places a legal hold: retention never prunes the backup.");
        api.MapDelete("{id:guid}/hold", ReleaseAsync).WithName("ReleaseLegalHold").WithSummary("Releases a legal hold.");
        api.MapPost("prune", PruneAsync).WithName("PruneBackups").WithSummary("Applies the retention policy now; returns the ids removed.");
        api.MapPost("drills", DrillAsync).WithName("RunRestoreDrills")
            .WithSummary("Runs the restore drills now: each source's newest backup restored into scratch, checked, dropped; passed per source.");
        return api;
    }

    public static async Task<Results<Accepted<BackupStarted>, ValidationProblem>> StartAsync(
        StartBackupRequest? request, [AsParameters] BackupServices s, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (s.Sources.Find(request?.Source) is not { } source)
        {
            return Invalid("source", $"source must be one of: {string.Join(", ", s.Sources.All.Select(x => x.Name))}.");
        }
        // Loaded before the start so a running job is never replaced by a stale reload of S3.
        await s.Catalog.ListAsync(null, cancellationToken);
        var job = s.Runner.Start(source, Roles.Of(user));
        return TypedResults.Accepted($"/api/backups/{job.Id}", new BackupStarted(job.Id));
    }

    public static async Task<Results<Ok<List<BackupView>>, ValidationProblem>> ListAsync(
        string? source, [AsParameters] BackupServices s, CancellationToken cancellationToken)
    {
        if (source is not null && s.Sources.Find(source) is null) return Invalid("source", "Unknown source.");
        var jobs = await s.Catalog.ListAsync(source, cancellationToken);
        return TypedResults.Ok(jobs.Select(j => View(j, s.Time)).ToList());
    }

    public static async Task<Results<Ok<BackupView>, ProblemHttpResult>> GetAsync(Guid id, [AsParameters] BackupServices s, CancellationToken cancellationToken) =>
        await s.Catalog.GetAsync(id, cancellationToken) is { } job ? TypedResults.Ok(View(job, s.Time)) : NotFound();

    public static Ok<ScheduleView> GetSchedules([AsParameters] BackupServices s) => TypedResults.Ok(s.Schedule.Describe(s.Time.GetUtcNow()));

    public static async Task<Results<Ok<VerifyResult>, ProblemHttpResult>> VerifyAsync(
        Guid id, [AsParameters] BackupServices s, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (await CompletedAsync(id, s, cancellationToken) is not { } manifest) return NotCompleted();
        var result = await s.Restores.VerifyAsync(manifest, cancellationToken);
        await s.Repository.PutManifestAsync(manifest with { Verified = result.Verified, VerifiedAt = s.Time.GetUtcNow() }, cancellationToken);
        await s.Catalog.ReloadAsync(cancellationToken);
        s.Telemetry.Operations.Add(1, new("operation", "verify"), new("outcome", result.Verified ? "ok" : "failed"));
        await s.Audit.WriteAsync("verify", manifest.Source, id, Roles.Of(user), result.Verified ? "verified" : "failed", result.Reason);
        return TypedResults.Ok(result);
    }

    public static async Task<Results<Ok<RestoreResult>, ValidationProblem, ProblemHttpResult>> RestoreAsync(
        Guid id, RestoreRequest? request, [AsParameters] BackupServices s, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var target = request?.Target ?? "scratch";
        if (target is not ("scratch" or "in-place")) return Invalid("target", "target must be 'scratch' or 'in-place'.");
        if (await CompletedAsync(id, s, cancellationToken) is not { } manifest) return NotCompleted();
        var inPlace = target == "in-place";
        if (inPlace && request?.Confirm != manifest.Source)
        {
            return Invalid("confirm", $"An in-place restore replaces the live '{manifest.Source}' data: set confirm to \"{manifest.Source}\".");
        }
        try
        {
            // Not the request's token: a client that disconnects must not leave a half-applied restore behind.
            var result = await s.Restores.RestoreAsync(manifest, inPlace, CancellationToken.None);
            s.Telemetry.Operations.Add(1, new("operation", "restore"), new("outcome", "ok"));
            await s.Audit.WriteAsync("restore", manifest.Source, id, Roles.Of(user), "restored", $"{target} into {result.Database}");
            return TypedResults.Ok(result);
        }
        catch (Exception e) when (e is RestoreRefusedException or BackupFailedException)
        {
            s.Telemetry.Operations.Add(1, new("operation", "restore"), new("outcome", "failed"));
            await s.Audit.WriteAsync("restore", manifest.Source, id, Roles.Of(user), "failed", e.Message);
            return TypedResults.Problem(title: e is RestoreRefusedException ? "The backup cannot be restored here." : "The restore failed and was rolled back.",
                detail: e.Message, statusCode: StatusCodes.Status409Conflict);
        }
    }

    public static async Task<Results<Ok<BackupView>, ValidationProblem, ProblemHttpResult>> HoldAsync(
        Guid id, HoldRequest? request, [AsParameters] BackupServices s, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (request?.Reason is not { Length: >= 3 and <= 200 } reason) return Invalid("reason", "A reason of 3-200 characters is required.");
        return await SetHoldAsync(id, reason, s, user, cancellationToken);
    }

    public static Task<Results<Ok<BackupView>, ValidationProblem, ProblemHttpResult>> ReleaseAsync(
        Guid id, [AsParameters] BackupServices s, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        SetHoldAsync(id, null, s, user, cancellationToken);

    public static async Task<Ok<PruneResult>> PruneAsync([AsParameters] BackupServices s, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        TypedResults.Ok(await s.Pruner.PruneAsync(Roles.Of(user), cancellationToken));

    public static async Task<Ok<Dictionary<string, bool>>> DrillAsync([AsParameters] BackupServices s, CancellationToken cancellationToken) =>
        TypedResults.Ok(await s.Drills.DrillAllAsync(cancellationToken));

    private static async Task<Results<Ok<BackupView>, ValidationProblem, ProblemHttpResult>> SetHoldAsync(
        Guid id, string? reason, BackupServices s, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (await CompletedAsync(id, s, cancellationToken) is not { } manifest) return NotCompleted();
        await s.Repository.PutManifestAsync(manifest with { LegalHold = reason }, cancellationToken);
        await s.Catalog.ReloadAsync(cancellationToken);
        await s.Audit.WriteAsync(reason is null ? "hold-release" : "hold", manifest.Source, id, Roles.Of(user), "ok");
        return TypedResults.Ok(View((await s.Catalog.GetAsync(id, cancellationToken))!, s.Time));
    }

    /// <summary>The manifest as stored in S3 now (the catalog may be older), for a completed backup.</summary>
    private static async Task<Manifest?> CompletedAsync(Guid id, BackupServices s, CancellationToken cancellationToken) =>
        await s.Catalog.GetAsync(id, cancellationToken) is { State: BackupState.Completed } job
            ? await s.Repository.GetManifestAsync(job.Source, id, cancellationToken)
            : null;

    private static BackupView View(BackupJob job, TimeProvider time) => new(
        job.Id, job.Source, job.State.ToString().ToLowerInvariant(), job.State == BackupState.Failed ? null : job.ObjectKey, job.BytesDone,
        Math.Round(job.Rate(time.GetUtcNow())), job.StartedAt, job.FinishedAt, job.KeyServiceUnavailable, job.FailureReason, job.Manifest);

    private static ProblemHttpResult NotFound() => TypedResults.Problem(title: "No such backup.", statusCode: StatusCodes.Status404NotFound);

    private static ProblemHttpResult NotCompleted() =>
        TypedResults.Problem(title: "No completed backup with this id.", statusCode: StatusCodes.Status404NotFound);

    private static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] });
}
