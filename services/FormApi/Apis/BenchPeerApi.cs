using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Pii.FormApi.Data;

namespace Pii.FormApi.Apis;

/// <summary>
/// Benchmark only (FormApi:BenchPlaintextPeer=true, set by bench/formapi and nowhere else): the same validation and one
/// INSERT of the same fields as <c>POST /api/dnc</c>, but in plaintext into <c>bench_plaintext_dnc</c>, so the encrypted
/// intake can be compared with its unencrypted peer in the same run. Not mapped, and the table not created, otherwise.
/// </summary>
internal static class BenchPeerApi
{
    public const string CreateTable = """
        CREATE TABLE IF NOT EXISTS bench_plaintext_dnc (
          id BINARY(16) NOT NULL PRIMARY KEY,
          first_name VARCHAR(400) NOT NULL, middle_name VARCHAR(400) NULL, last_name VARCHAR(400) NOT NULL,
          phone VARCHAR(32) NOT NULL, email VARCHAR(254) NOT NULL,
          phone_dnc BOOLEAN NOT NULL, email_dnc BOOLEAN NOT NULL,
          created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL, row_version INT NOT NULL,
          KEY ix_phone (phone), KEY ix_email (email), KEY ix_updated (updated_at, id)
        ) ENGINE=InnoDB
        """;

    public static void MapBenchPeerApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/bench/plaintext-dnc", CreateAsync)
            .WithName("BenchPlaintextPeer")
            .RequireRateLimiting(DncApi.RateLimitPolicy)
            .ExcludeFromDescription();
    }

    public static async Task<Results<Created<SubmissionCreated>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        HttpRequest request, DncDatabase database, TimeProvider time, IOptions<FormApiOptions> options, CancellationToken cancellationToken)
    {
        var (submission, invalid, problem) = await DncApi.ParseAsync(request, options.Value, cancellationToken);
        if (invalid is not null)
        {
            return invalid;
        }
        if (submission is null)
        {
            return problem!;
        }
        var id = Guid.CreateVersion7(time.GetUtcNow());
        var now = time.GetUtcNow().UtcDateTime;
        using var span = DncDatabase.StartSpan("INSERT", "bench_plaintext_dnc");
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO bench_plaintext_dnc (id, first_name, middle_name, last_name, phone, email, phone_dnc, email_dnc, created_at, updated_at, row_version)
            VALUES (@id, @FirstName, @MiddleName, @LastName, @Phone, @Email, @PhoneDnc, @EmailDnc, @now, @now, 1)
            """,
            new { id = DncDatabase.ToBytes(id), submission.FirstName, submission.MiddleName, submission.LastName, submission.Phone, submission.Email, submission.PhoneDnc, submission.EmailDnc, now },
            cancellationToken: cancellationToken));
        return TypedResults.Created($"/api/dnc/{id}", new SubmissionCreated(id));
    }
}
