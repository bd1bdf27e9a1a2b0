using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pii.Crypto;
using Pii.EtlWorker.Auth;
using Pii.EtlWorker.Etl;

namespace Pii.EtlWorker.Apis;

/// <summary>The dialer's answer: may this phone number or address be contacted, and if not, why.</summary>
public sealed record SuppressionAnswer(bool Contact, string? Reason);

/// <summary>
/// <c>GET /api/suppression/check?phone=…</c> or <c>?email=…</c> for role <c>dialer</c>. The value is normalized, indexed
/// by the key service (the same HMAC the list was built with) and looked up by index: no plaintext list exists.
/// Nothing of the value is echoed or logged (request-line logging is off; spans drop query strings).
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
            .AddEndpointFilter(new RequireApiKeyRole("dialer"));
        return api;
    }

    public static async Task<Results<Ok<SuppressionAnswer>, ProblemHttpResult>> CheckAsync(
        [FromQuery] string? phone, [FromQuery] string? email, SuppressionStore store, SuppressionIndexer indexer, CancellationToken cancellationToken)
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
        return TypedResults.Ok(verdict.DoNotContact
            ? new SuppressionAnswer(false, kind == ContactKind.Phone ? "phone_dnc" : "email_dnc")
            : new SuppressionAnswer(true, null));
    }

    private static ProblemHttpResult Invalid(string field, string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid " + field, detail: detail,
            extensions: new Dictionary<string, object?> { ["field"] = field });
}
