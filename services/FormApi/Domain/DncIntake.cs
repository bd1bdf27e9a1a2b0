using System.Diagnostics.Metrics;
using Pii.Crypto.Fields;
using Pii.FormApi.Data;
using Pii.FormApi.Keys;
using Pii.Services.Shared;

namespace Pii.FormApi.Domain;

/// <summary>
/// Stores a submission: a fresh UUIDv7, each PII field encrypted (randomized mode) under the intake's DEK with the AAD
/// bound to <c>dnc_preferences.&lt;column&gt;:&lt;id&gt;</c>, blind indexes for phone and email, one INSERT.
/// </summary>
internal sealed class DncIntake(IntakeDek dek, DncBlindIndexProvider indexes, DncDatabase database, TimeProvider time, FormApiMetrics metrics)
{
    public const string Table = "dnc_preferences";
    private const int Attempts = 3;

    public async Task<Guid> SubmitAsync(DncSubmission submission, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var id = Guid.CreateVersion7(time.GetUtcNow());
        var idText = id.ToString("D");
        var blind = await indexes.GetAsync(cancellationToken);
        var phoneIndex = blind.Phone.Compute(submission.Phone);
        var emailIndex = blind.Email.Compute(submission.Email);
        for (int attempt = 1; ; attempt++)
        {
            var key = await dek.GetAsync(uses: 5, cancellationToken);
            try
            {
                var now = time.GetUtcNow().UtcDateTime;
                using var span = DncDatabase.StartSpan("INSERT", Table);
                await using var connection = await database.OpenAsync(cancellationToken);
                await using var command = connection.CreateCommand();
                command.CommandText = GuardedInsert;
                MySqlDekStore.AddParameter(command, "@id", DncDatabase.ToBytes(id));
                MySqlDekStore.AddParameter(command, "@first", Encrypt(key, "first_name", submission.FirstName, idText));
                MySqlDekStore.AddParameter(command, "@middle", Encrypt(key, "middle_name", submission.MiddleName, idText));
                MySqlDekStore.AddParameter(command, "@last", Encrypt(key, "last_name", submission.LastName, idText));
                MySqlDekStore.AddParameter(command, "@phone", Encrypt(key, "phone", submission.Phone, idText));
                MySqlDekStore.AddParameter(command, "@email", Encrypt(key, "email", submission.Email, idText));
                MySqlDekStore.AddParameter(command, "@phone_bidx", phoneIndex);
                MySqlDekStore.AddParameter(command, "@email_bidx", emailIndex);
                MySqlDekStore.AddParameter(command, "@phone_dnc", submission.PhoneDnc);
                MySqlDekStore.AddParameter(command, "@email_dnc", submission.EmailDnc);
                MySqlDekStore.AddParameter(command, "@dek", key.DekId);
                MySqlDekStore.AddParameter(command, "@now", now);
                if (await command.ExecuteNonQueryAsync(cancellationToken) == 1)
                {
                    metrics.Submissions.Add(1);
                    return id;
                }
                // Nothing inserted: the DEK was retired (rotation) or destroyed meanwhile; take a fresh one.
                dek.Invalidate(key.DekId);
                if (attempt == Attempts)
                {
                    throw new InvalidOperationException("Every DEK the intake took was retired before its row could be stored.");
                }
            }
            catch (ObjectDisposedException) when (attempt < Attempts)
            {
                // The DEK was replaced between fetching and using it; take the new one.
            }
        }
    }

    /// <summary>
    /// The row is stored only while its DEK is active: the INSERT reads the DEK's row under a shared lock, so it and a
    /// retirement (which updates that row) serialise, and once a retirement committed no later INSERT can store a row
    /// under that DEK (the re-encryption job's scan is complete). An inactive DEK inserts nothing. This replaced a
    /// BEFORE INSERT trigger doing the same locking read per row, which cost about a fifth of the intake's throughput
    /// (bench/RESULTS.md). The intake may read only the id and retirement columns of encryption_keys.
    /// </summary>
    internal const string GuardedInsert = """
        INSERT INTO dnc_preferences (id, first_name, middle_name, last_name, phone, email, phone_bidx, email_bidx,
          phone_dnc, email_dnc, dek_id, created_at, updated_at, row_version)
        SELECT @id, @first, @middle, @last, @phone, @email, @phone_bidx, @email_bidx, @phone_dnc, @email_dnc, @dek, @now, @now, 1
        FROM encryption_keys WHERE id = @dek AND retired_at IS NULL AND destroyed_at IS NULL LOCK IN SHARE MODE
        """;

    public static byte[]? Encrypt(FieldKey key, string column, string? value, string recordId) =>
        FieldCipher.EncryptString(key, FieldMode.Randomized, value, new FieldContext(Table, column, recordId));
}

/// <summary>FormApi's own metrics (meter "Pii.FormApi", exported with the service's telemetry).</summary>
internal sealed class FormApiMetrics : IDisposable
{
    public const string MeterName = "Pii.FormApi";
    private readonly Meter _meter = new(MeterName);

    public FormApiMetrics()
    {
        Submissions = _meter.CreateCounter<long>("formapi.dnc.submissions", description: "DNC submissions stored");
        RowsReencrypted = _meter.CreateCounter<long>("formapi.reencryption.rows", description: "Rows moved to the new DEK by re-encryption jobs");
        RowsSkipped = _meter.CreateCounter<long>("formapi.reencryption.skipped", description: "Rows changed concurrently during re-encryption (retried next pass)");
        RowsQuarantined = _meter.CreateCounter<long>("formapi.reencryption.quarantined", description: "Rows a re-encryption job set aside because they do not decrypt");
        _meter.CreateObservableGauge("formapi.reencryption.remaining", () => Remaining, description: "Rows still under retired DEKs in the running job");
    }

    public Counter<long> Submissions { get; }

    public Counter<long> RowsReencrypted { get; }

    public Counter<long> RowsSkipped { get; }

    public Counter<long> RowsQuarantined { get; }

    public long Remaining { get; set; }

    public void Dispose() => _meter.Dispose();
}
