using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pii.Crypto;
using Pii.DocumentService.Audit;
using Pii.DocumentService.Auth;
using Pii.DocumentService.Documents;

namespace Pii.DocumentService.Patients;

internal sealed record RevealRequest(string? Reason);

internal sealed class PatientServices(PatientRecords records, DocumentCatalog catalog, DocumentStore store, AccessLog log)
{
    public PatientRecords Records { get; } = records;
    public DocumentCatalog Catalog { get; } = catalog;
    public DocumentStore Store { get; } = store;
    public AccessLog Log { get; } = log;
}

/// <summary>Create, read (tier 3 masked), search by blind index (MRN included), reveal (records-admin, with reason), erase.</summary>
internal static class PatientsApi
{
    public const int MinReasonLength = 10;
    public const int MaxReasonLength = 500;

    public static RouteGroupBuilder MapPatientsApi(this IEndpointRouteBuilder routes)
    {
        var api = routes.MapGroup("api/patients").WithTags("Patients").AddEndpointFilter<DependencyFailureFilter>();
        api.MapPost("", CreateAsync).RequireAuthorization(Roles.Clinician)
            .WithName("CreatePatient").WithSummary("Stores a patient with every PII field encrypted by its tier.");
        api.MapGet("", SearchAsync).RequireAuthorization(Roles.Clinician)
            .WithName("SearchPatients").WithSummary("Exact search by MRN, full name, SSN, SSN last four or diagnosis code.");
        api.MapGet("{id:guid}", GetAsync).RequireAuthorization(Roles.Clinician)
            .WithName("GetPatient").WithSummary("The patient with tier-3 fields masked.");
        api.MapPost("{id:guid}/reveal", RevealAsync).RequireAuthorization(Roles.RecordsAdmin)
            .WithName("RevealPatient").WithSummary("The patient with tier-3 fields in clear; the reason is logged.");
        api.MapDelete("{id:guid}", EraseAsync).RequireAuthorization(Roles.RecordsAdmin)
            .WithName("ErasePatient").WithSummary("Erases the patient and every document of the patient.");
        return api;
    }

    public static async Task<Results<Created<PatientView>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        NewPatient patient, [AsParameters] PatientServices s, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var errors = PatientRecords.Validate(patient);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        if (await s.Records.CreateAsync(patient, cancellationToken) is not { } id)
        {
            return TypedResults.Problem(title: "A patient with this MRN exists.", statusCode: StatusCodes.Status409Conflict);
        }
        await s.Log.WriteAsync(user, "patient.create", id, null, "created", cancellationToken: CancellationToken.None);
        return TypedResults.Created($"/api/patients/{id}", (await s.Records.GetAsync(id, revealSsn: false, cancellationToken))!);
    }

    public static async Task<Results<Ok<IReadOnlyList<PatientSummary>>, ValidationProblem>> SearchAsync(
        string? mrn, string? name, string? ssn, string? ssnLast4, string? diagnosis, [AsParameters] PatientServices s, HttpContext http,
        CancellationToken cancellationToken)
    {
        if (mrn is null && name is null && ssn is null && ssnLast4 is null && diagnosis is null)
        {
            return Invalid("query", "Give at least one of mrn, name, ssn, ssnLast4, diagnosis.");
        }
        if (ssnLast4 is not null && !PatientRecords.IsValidLastFour(ssnLast4)) return Invalid("ssnLast4", "Four digits.");
        if (diagnosis is not null && !PatientRecords.IsValidDiagnosisCode(diagnosis)) return Invalid("diagnosis", "An ICD-10 code such as E11.9.");
        if (mrn is not null && (mrn.Length is 0 or > 32)) return Invalid("mrn", "1-32 characters.");
        if (name is not null && name.Length > 200) return Invalid("name", "At most 200 characters.");
        PatientSearchResult found;
        try
        {
            found = await s.Records.SearchAsync(new PatientSearch(mrn, name, ssn, ssnLast4, diagnosis), 50, cancellationToken);
        }
        catch (MalformedInputException)
        {
            return Invalid("query", "A search value is not well formed (SSN: 9 digits; name and MRN: not empty).");
        }
        await s.Log.WriteAsync(http.User, "patient.search", null, null, $"{found.Patients.Count} results", cancellationToken: cancellationToken);
        // A hit whose decrypted values do not match (an index value copied from another row) or that does not decrypt is
        // left out and recorded; the count tells the caller the answer may be incomplete.
        foreach (var failed in found.IntegrityFailures)
        {
            await s.Log.WriteAsync(http.User, "patient.search", failed, null, "integrity failure", cancellationToken: cancellationToken);
        }
        http.Response.Headers[DocumentsApi.IntegrityFailuresHeader] = found.IntegrityFailures.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return TypedResults.Ok(found.Patients);
    }

    public static async Task<Results<Ok<PatientView>, ProblemHttpResult>> GetAsync(
        Guid id, [AsParameters] PatientServices s, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (await s.Records.GetAsync(id, revealSsn: false, cancellationToken) is not { } patient) return DocumentsApi.PatientNotFound();
        await s.Log.WriteAsync(user, "patient.read", id, null, "masked", cancellationToken: cancellationToken);
        return TypedResults.Ok(patient);
    }

    public static async Task<Results<Ok<PatientView>, ProblemHttpResult, ValidationProblem>> RevealAsync(
        Guid id, RevealRequest request, [AsParameters] PatientServices s, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var reason = request.Reason?.Trim();
        if (reason is null || reason.Length < MinReasonLength || reason.Length > MaxReasonLength || reason.Any(char.IsControl))
        {
            return Invalid("reason", $"A reason of {MinReasonLength}-{MaxReasonLength} characters is required to reveal tier-3 fields.");
        }
        if (!await s.Records.ExistsAsync(id, cancellationToken)) return DocumentsApi.PatientNotFound();
        // Logged before the decryption: a reveal that fails half-way is still on record.
        await s.Log.WriteAsync(user, "patient.reveal", id, null, "revealed", reason, cancellationToken);
        return TypedResults.Ok((await s.Records.GetAsync(id, revealSsn: true, cancellationToken))!);
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> EraseAsync(
        Guid id, [AsParameters] PatientServices s, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (!await s.Records.ExistsAsync(id, cancellationToken)) return DocumentsApi.PatientNotFound();
        // Objects first: if S3 fails half-way the patient and the remaining documents stay, and the erase can be retried.
        foreach (var document in await s.Catalog.ListAsync(id, null, int.MaxValue, cancellationToken))
        {
            await s.Store.DeleteAsync(document, cancellationToken);
        }
        await s.Records.DeleteAsync(id, cancellationToken);
        await s.Log.WriteAsync(user, "patient.erase", id, null, "erased", cancellationToken: CancellationToken.None);
        return TypedResults.NoContent();
    }

    private static ValidationProblem Invalid(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] });
}
