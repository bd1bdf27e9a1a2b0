using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Pii.Crypto;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Transit;
using Pii.FormApi.Auth;
using Pii.FormApi.Data;
using Pii.FormApi.Domain;
using Pii.Services.Shared;

namespace Pii.FormApi.Apis;

internal sealed record SubmissionCreated(Guid Id);

internal sealed record SubmitStatus(string Status);

internal sealed record DncRecordResponse(
    Guid Id, string FirstName, string? MiddleName, string LastName, string Phone, string Email,
    bool PhoneDnc, bool EmailDnc, DateTime CreatedAt, DateTime UpdatedAt, int RowVersion, bool Masked)
{
    public static DncRecordResponse From(DncRecord r, bool masked) =>
        new(r.Id, r.FirstName, r.MiddleName, r.LastName, r.Phone, r.Email, r.PhoneDnc, r.EmailDnc, r.CreatedAt, r.UpdatedAt, r.RowVersion, masked);
}

internal sealed record PatchResponse(Guid Id, int RowVersion);

/// <summary>
/// The DNC routes. Intake (public, rate-limited per client IP): <c>POST /api/dnc</c>, <c>POST /submit</c>. Back office
/// (X-Api-Key roles): read (masked or revealed), lookup by blind index, preference patch with optimistic concurrency,
/// erasure. Each instance maps only its own half, so the other half answers 404.
/// </summary>
internal static class DncApi
{
    public const string RateLimitPolicy = "submissions";
    private const string AllPiiFields = "first_name,middle_name,last_name,phone,email";
    private const int MaxReasonLength = 500;

    /// <summary>On a lookup: how many index hits were left out because their record failed its integrity check.</summary>
    public const string IntegrityFailuresHeader = "X-Integrity-Failures";

    /// <summary>The access-log outcome of a record that failed its integrity check.</summary>
    public const string TamperedOutcome = "tampered";

    public static RouteGroupBuilder MapDncIntakeApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("").WithTags("DNC intake").RequireRateLimiting(RateLimitPolicy).DisableAntiforgery();
        api.MapPost("/api/dnc", CreateAsync)
            .WithName("CreateDncPreference")
            .WithSummary("Store Do-Not-Contact preferences")
            .WithDescription("Validates the seven fields, encrypts every PII field before it reaches MySQL and returns the new record id. Nothing is echoed.")
            .Accepts<DncSubmissionBody>("application/json");
        api.MapPost("/submit", SubmitAsync)
            .WithName("SubmitDncPreference")
            .WithSummary("Proof-of-concept compatible submission")
            .WithDescription("Same body and validation as POST /api/dnc; answers {\"status\":\"ok\"}.")
            .Accepts<DncSubmissionBody>("application/json");
        return api;
    }

    public static RouteGroupBuilder MapDncBackofficeApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api/dnc").WithTags("DNC back office");
        api.MapGet("/{id:guid}", GetAsync)
            .WithName("GetDncPreference")
            .WithSummary("Read a record, masked unless a supervisor reveals it with a reason")
            .RequiresApiKey().AddEndpointFilter(new RequireRole("agent", "supervisor"));
        api.MapGet("/lookup", LookupAsync)
            .WithName("LookupDncPreference")
            .WithSummary("Find records by phone or email through the blind index (masked)")
            .RequiresApiKey().AddEndpointFilter(new RequireRole("agent", "supervisor"));
        api.MapPatch("/{id:guid}", PatchAsync)
            .WithName("PatchDncPreference")
            .WithSummary("Change phone_dnc / email_dnc; If-Match carries the row version (409 on conflict)")
            .Accepts<DncPatchBody>("application/json")
            .RequiresApiKey().AddEndpointFilter(new RequireRole("agent", "supervisor"));
        api.MapDelete("/{id:guid}", EraseAsync)
            .WithName("EraseDncPreference")
            .WithSummary("Erase a record: the row and its blind indexes go; dnc_erasures and the access log record that it happened")
            .RequiresApiKey().AddEndpointFilter(new RequireRole("supervisor"));
        return api;
    }

    public static async Task<Results<Created<SubmissionCreated>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpRequest request, DncIntake intake, IOptions<FormApiOptions> options, CancellationToken cancellationToken)
    {
        var (id, invalid, problem) = await AcceptAsync(request, intake, options.Value, cancellationToken);
        if (invalid is not null)
        {
            return invalid;
        }
        return problem is not null ? problem : TypedResults.Created($"/api/dnc/{id}", new SubmissionCreated(id));
    }

    public static async Task<Results<Ok<SubmitStatus>, ValidationProblem, ProblemHttpResult>> SubmitAsync(
        HttpRequest request, DncIntake intake, IOptions<FormApiOptions> options, CancellationToken cancellationToken)
    {
        var (_, invalid, problem) = await AcceptAsync(request, intake, options.Value, cancellationToken);
        if (invalid is not null)
        {
            return invalid;
        }
        return problem is not null ? problem : TypedResults.Ok(new SubmitStatus("ok"));
    }

    /// <summary>Parses, validates and stores one submission: its id, or the validation problem, or another problem.</summary>
    private static async Task<(Guid Id, ValidationProblem? Invalid, ProblemHttpResult? Problem)> AcceptAsync(
        HttpRequest request, DncIntake intake, FormApiOptions options, CancellationToken cancellationToken)
    {
        var (submission, invalid, problem) = await ParseAsync(request, options, cancellationToken);
        if (invalid is not null || submission is null)
        {
            return (default, invalid, problem);
        }
        var (id, unavailable) = await StoreAsync(intake, submission, cancellationToken);
        return (id, null, unavailable);
    }

    public static async Task<Results<Ok<DncRecordResponse>, NotFound, ValidationProblem, ProblemHttpResult>> GetAsync(
        Guid id, [FromQuery] bool? reveal, [FromQuery] string? reason, HttpContext context, DncRecords records, AccessLog log, CancellationToken cancellationToken)
    {
        var caller = RequireRole.CallerOf(context);
        bool revealing = reveal == true;
        if (revealing)
        {
            if (caller.Role != "supervisor")
            {
                await log.WriteAsync(new AccessEntry(caller.Role, caller.KeyFingerprint, "denied", id, "reveal:" + AllPiiFields, null, "denied", caller.ClientIp), cancellationToken);
                return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: $"The role '{caller.Role}' may not reveal PII.");
            }
            if (ValidateReason(reason) is { } reasonError)
            {
                return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = [reasonError] }, title: "Invalid field: reason");
            }
        }
        var action = revealing ? "reveal" : "read";
        var fields = revealing ? AllPiiFields : "masked:" + AllPiiFields;
        DncRecord? record;
        try
        {
            record = await records.GetAsync(id, cancellationToken);
        }
        catch (CryptoException)
        {
            await log.WriteAsync(new AccessEntry(caller.Role, caller.KeyFingerprint, action, id, fields, revealing ? reason : null, TamperedOutcome, caller.ClientIp), cancellationToken);
            return IntegrityFailure();
        }
        await log.WriteAsync(new AccessEntry(caller.Role, caller.KeyFingerprint, action, id, fields, revealing ? reason : null, record is null ? "not_found" : "ok", caller.ClientIp), cancellationToken);
        if (record is null)
        {
            return TypedResults.NotFound();
        }
        context.Response.Headers.ETag = $"\"{record.RowVersion}\"";
        return TypedResults.Ok(DncRecordResponse.From(revealing ? record : record.Masked(), masked: !revealing));
    }

    public static async Task<Results<Ok<DncRecordResponse[]>, ValidationProblem>> LookupAsync(
        [FromQuery] string? phone, [FromQuery] string? email, HttpContext context, DncRecords records, AccessLog log, CancellationToken cancellationToken)
    {
        var caller = RequireRole.CallerOf(context);
        if ((phone is null) == (email is null))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["phone"] = ["Give exactly one of phone or email."] }, title: "Invalid field: phone");
        }
        string field = phone is not null ? "phone" : "email";
        try
        {
            _ = phone is not null ? Normalizer.Phone(phone) : Normalizer.Email(email!);
        }
        catch (MalformedInputException)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [field == "phone" ? "Must be an E.164 number." : "Must be an e-mail address."] }, title: $"Invalid field: {field}");
        }
        if (email is not null && !SubmissionParser.IsValidEmail(email.Trim()))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["email"] = ["Must be an e-mail address."] }, title: "Invalid field: email");
        }
        var (found, tampered) = await records.LookupAsync(phone, email?.Trim(), cancellationToken);
        string fields = $"by:{field}_bidx;masked:{AllPiiFields}";
        foreach (var bad in tampered)
        {
            await log.WriteAsync(new AccessEntry(caller.Role, caller.KeyFingerprint, "lookup", bad, fields, null, TamperedOutcome, caller.ClientIp), cancellationToken);
        }
        context.Response.Headers[IntegrityFailuresHeader] = tampered.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (found.Count == 0)
        {
            await log.WriteAsync(new AccessEntry(caller.Role, caller.KeyFingerprint, "lookup", null, fields, null, "not_found", caller.ClientIp), cancellationToken);
        }
        foreach (var record in found)
        {
            await log.WriteAsync(new AccessEntry(caller.Role, caller.KeyFingerprint, "lookup", record.Id, fields, null, "ok", caller.ClientIp), cancellationToken);
        }
        return TypedResults.Ok(found.Select(r => DncRecordResponse.From(r.Masked(), masked: true)).ToArray());
    }

    public static async Task<Results<Ok<PatchResponse>, NotFound, ValidationProblem, ProblemHttpResult>> PatchAsync(
        Guid id, HttpContext context, DncRecords records, AccessLog log, IOptions<FormApiOptions> options, CancellationToken cancellationToken)
    {
        var caller = RequireRole.CallerOf(context);
        var ifMatch = context.Request.Headers.IfMatch.ToString();
        if (ifMatch.Length == 0)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status428PreconditionRequired, title: "If-Match with the record's row version (its ETag) is required.",
                extensions: new Dictionary<string, object?> { ["field"] = "If-Match" });
        }
        if (!int.TryParse(ifMatch.Trim().Trim('"'), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var expected))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["If-Match"] = ["Must be the record's ETag, e.g. \"3\"."] }, title: "Invalid field: If-Match");
        }
        var (body, problem) = await RequestBody.ReadJsonAsync(context.Request, options.Value.MaxBodyBytes, cancellationToken);
        if (body is null)
        {
            return problem!;
        }
        var errors = new ValidationErrors();
        var patch = SubmissionParser.ParsePatch(body, errors);
        if (patch is null)
        {
            return Invalid(errors);
        }
        var (outcome, version) = await records.PatchAsync(id, expected, patch, cancellationToken);
        await log.WriteAsync(new AccessEntry(caller.Role, caller.KeyFingerprint, "update", id, "phone_dnc,email_dnc", null, outcome.ToString().ToLowerInvariant(), caller.ClientIp), cancellationToken);
        switch (outcome)
        {
            case PatchOutcome.NotFound:
                return TypedResults.NotFound();
            case PatchOutcome.Conflict:
                context.Response.Headers.ETag = $"\"{version}\"";
                return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The record changed since it was read; read it again and retry.",
                    extensions: new Dictionary<string, object?> { ["current_row_version"] = version });
            default:
                context.Response.Headers.ETag = $"\"{version}\"";
                return TypedResults.Ok(new PatchResponse(id, version));
        }
    }

    public static async Task<Results<NoContent, NotFound>> EraseAsync(Guid id, HttpContext context, DncRecords records, AccessLog log, CancellationToken cancellationToken)
    {
        var caller = RequireRole.CallerOf(context);
        var erased = await records.EraseAsync(id, (connection, transaction) => log.WriteAsync(connection, transaction,
            new AccessEntry(caller.Role, caller.KeyFingerprint, "erase", id, "record", null, "ok", caller.ClientIp), cancellationToken), cancellationToken);
        if (!erased)
        {
            await log.WriteAsync(new AccessEntry(caller.Role, caller.KeyFingerprint, "erase", id, "record", null, "not_found", caller.ClientIp), cancellationToken);
            return TypedResults.NotFound();
        }
        return TypedResults.NoContent();
    }

    /// <summary>Stores the submission; an unreachable key service is a 503 with Retry-After (nothing was stored), not a 500.</summary>
    private static async Task<(Guid Id, ProblemHttpResult? Unavailable)> StoreAsync(DncIntake intake, DncSubmission submission, CancellationToken cancellationToken)
    {
        try
        {
            return (await intake.SubmitAsync(submission, cancellationToken), null);
        }
        catch (Exception e) when (e is HttpRequestException or TransitServerException or Polly.Timeout.TimeoutRejectedException
            || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return (Guid.Empty, TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, type: ServiceProblems.DependencyUnavailableType,
                title: "The key service is unreachable; nothing was stored. Retry shortly.",
                extensions: new Dictionary<string, object?> { ["retry_after_seconds"] = 5 }));
        }
    }

    private static ProblemHttpResult IntegrityFailure()
    {
        var problem = ServiceProblems.IntegrityFailure("The stored DNC record failed its integrity check.");
        return TypedResults.Problem(statusCode: problem.Status, type: problem.Type, title: problem.Title);
    }

    internal static async Task<(DncSubmission? Submission, ValidationProblem? Invalid, ProblemHttpResult? Problem)> ParseAsync(HttpRequest request, FormApiOptions options, CancellationToken cancellationToken)
    {
        var (body, problem) = await RequestBody.ReadJsonAsync(request, options.MaxBodyBytes, cancellationToken);
        if (body is null)
        {
            return (null, null, problem);
        }
        var errors = new ValidationErrors();
        var submission = SubmissionParser.ParseSubmission(body, errors);
        return submission is null ? (null, Invalid(errors), null) : (submission, null, null);
    }

    private static ValidationProblem Invalid(ValidationErrors errors)
    {
        var dictionary = errors.ToDictionary();
        var names = string.Join(", ", dictionary.Keys.Order(StringComparer.Ordinal));
        return TypedResults.ValidationProblem(dictionary, title: $"Invalid field(s): {names}", detail: "Nothing was stored.");
    }

    private static string? ValidateReason(string? reason)
    {
        if (string.IsNullOrWhiteSpace(reason))
        {
            return "A reason is required to reveal PII.";
        }
        if (reason.Length > MaxReasonLength || reason.Any(char.IsControl))
        {
            return $"At most {MaxReasonLength} characters, no control characters.";
        }
        return null;
    }
}

/// <summary>The submission body, for the OpenAPI document (the handler parses the JSON itself, strictly).</summary>
internal sealed record DncSubmissionBody(string FirstName, string? MiddleName, string LastName, string Phone, string Email, bool PhoneDnc, bool EmailDnc);

/// <summary>The patch body, for the OpenAPI document.</summary>
internal sealed record DncPatchBody(bool? PhoneDnc, bool? EmailDnc);
