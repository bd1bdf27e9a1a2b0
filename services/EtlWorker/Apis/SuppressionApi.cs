using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pii.Crypto;
using Pii.EtlWorker.Auth;
using Pii.EtlWorker.Etl;
using Pii.Services.Shared;

namespace Pii.EtlWorker.Apis;

/// <summary>The dialer's answer: may this phone number or address be contacted, and if not, why.</summary>
public sealed record SuppressionAnswer(bool Contact, string? Reason);

/// <summary>
/// <c>GET /api/suppression/check?phone=…</c> or <c>?email=…</c> for role <c>dialer</c>. The value is normalized, indexed
/// by the key service (the same HMAC the list was built with) and looked up by index: no plaintext list exists.
/// Nothing of the value is echoed or logged (request-line logging is off; spans drop query strings). A contact whose
/// stored preference the ETL quarantined (found by the intake's own blind index) is refused with
/// <c>unreadable_preference</c>: the list fails closed.
/// </summary>
public static class SuppressionApi
{
    public static RouteGroupBuilder MapSuppressionApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api/suppression").WithTags("Suppression");
        api.MapGet("check", CheckAsync)
            .WithName("CheckSuppression")
            .WithSummary("May this phone number or e-mail address be contacted?")
            .WithDescription("Exactly one of phone (E.164) or email. Answers {\"contact\": false, \"reason\": \"phone_dnc\"} for a suppressed contact.")
            .RequiresApiKey().AddEndpointFilter(new RequireApiKeyRole("dialer"));
        return api;
    }

    internal static async Task<Results<Ok<SuppressionAnswer>, ProblemHttpResult>> CheckAsync(
        [FromQuery] string? phone, [FromQuery] string? email, SuppressionStore store, SuppressionIndexer indexer, DncBlindIndexProvider intakeIndexes,
        CancellationToken cancellationToken)
    {
        if ((phone is null) == (email is null))
        {
            return Invalid("query", "Give exactly one of phone or email.");
        }

        var kind = phone is not null ? ContactKind.Phone : ContactKind.Email;
        string normalized;
        try
        {
            normalized = SuppressionIndexer.Normalize(kind, phone ?? email!);
        }
        catch (MalformedInputException)
        {
            return kind == ContactKind.Phone
                ? Invalid("phone", "Not an E.164 phone number (a '+', the country code, 7 to 15 digits).")
                : Invalid("email", "Not a valid e-mail address.");
        }

        if (await store.IndexKeyVersionAsync(cancellationToken).ConfigureAwait(false) is not { } version)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Suppression list not ready", detail: "The ETL has not completed its first pass yet.");
        }

        var index = await indexer.ComputeOneAsync(kind, normalized, version, cancellationToken).ConfigureAwait(false);
        var verdict = await store.CheckAsync(kind, index, cancellationToken).ConfigureAwait(false);
        if (verdict.DoNotContact)
        {
            return TypedResults.Ok(new SuppressionAnswer(false, kind == ContactKind.Phone ? "phone_dnc" : "email_dnc"));
        }
        // Fail closed: a stored preference the ETL could not read (tampered, unknown DEK) may be a do-not-contact.
        var intake = await intakeIndexes.GetAsync(cancellationToken).ConfigureAwait(false);
        var asStored = new IntakeIndex(kind, kind == ContactKind.Phone ? intake.Phone.Compute(normalized) : intake.Email.Compute(normalized));
        return TypedResults.Ok(await store.IsQuarantinedAsync(asStored, cancellationToken).ConfigureAwait(false)
            ? new SuppressionAnswer(false, "unreadable_preference")
            : new SuppressionAnswer(true, null));
    }

    private static ProblemHttpResult Invalid(string field, string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid " + field, detail: detail,
            extensions: new Dictionary<string, object?> { ["field"] = field });
}
