using Dapper;
using MySqlConnector;
using Npgsql;
using Pii.BackupService.Backups;

namespace Pii.BackupService.Erasures;

/// <summary>One erasure: a patient (records) or a DNC record (dnc), by id only.</summary>
internal sealed record ErasureEntry(string Kind, string Key, DateTimeOffset ErasedAt);

/// <summary>
/// The erasure ledger: one authenticated record per erased subject under <c>erasures/{kind}/{key}.json</c> in the
/// backups bucket — outside every backed-up database, so restoring an older backup cannot roll it back. It is fed from
/// the live databases' own erasure records (DocumentService's <c>patient.erase</c> access-log entries, FormApi's
/// <c>dnc_erasures</c>) every <c>ErasureHarvestInterval</c>, before every backup and before every restore, and
/// re-applied at the end of every restore inside the restore's own transaction (PostgreSQL), before the restored data
/// is visible to any service.
/// </summary>
internal sealed class ErasureLedger(BackupRepository repository, BackupKeys keys, BackupSources sources) : IDisposable
{
    public const string Patient = "patient";
    public const string DncRecord = "dnc";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private HashSet<string>? _known;

    public void Dispose() => _gate.Dispose();

    public async Task<IReadOnlyList<ErasureEntry>> ReadAsync(CancellationToken cancellationToken)
    {
        var entries = new List<ErasureEntry>();
        foreach (var key in await repository.ListKeysAsync("erasures/", cancellationToken))
        {
            if (await repository.GetAsync(key, cancellationToken) is { } bytes) entries.Add(SignedRecord.Decode<ErasureEntry>(keys, "erasure", bytes));
        }
        return entries;
    }

    /// <summary>Copies erasures recorded in the live databases into the ledger; returns how many were new.</summary>
    public async Task<int> HarvestAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            _known ??= (await repository.ListKeysAsync("erasures/", cancellationToken)).ToHashSet(StringComparer.Ordinal);
            var found = new List<ErasureEntry>();
            if (sources.Find("records") is { } records) found.AddRange(await PatientErasuresAsync(records.ConnectionString, cancellationToken));
            if (sources.Find("dnc") is { } dnc) found.AddRange(await DncErasuresAsync(dnc.ConnectionString, cancellationToken));
            var added = 0;
            foreach (var entry in found)
            {
                var key = $"erasures/{entry.Kind}/{entry.Key}.json";
                if (_known.Contains(key)) continue;
                await repository.PutAsync(key, SignedRecord.Encode(keys, "erasure", entry), cancellationToken);
                _known.Add(key);
                added++;
            }
            return added;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// SQL (PostgreSQL) removing every ledgered patient and their documents' metadata from a restored records database;
    /// empty when the ledger holds none or the source is not records. Ids are UUIDs formatted here, never free text.
    /// </summary>
    public static string PostgresSql(string source, IReadOnlyList<ErasureEntry> entries)
    {
        var ids = entries.Where(e => e.Kind == Patient && Guid.TryParse(e.Key, out _)).Select(e => $"'{Guid.Parse(e.Key)}'").ToList();
        if (source != "records" || ids.Count == 0) return "";
        var list = string.Join(",", ids);
        return $"""
            DO $erasures$ BEGIN
              IF to_regclass('documents.patients') IS NOT NULL THEN
                IF to_regclass('documents.documents') IS NOT NULL THEN
                  DELETE FROM documents.documents WHERE patient_id IN ({list});
                END IF;
                IF to_regclass('documents.patient_diagnoses') IS NOT NULL THEN
                  DELETE FROM documents.patient_diagnoses WHERE patient_id IN ({list});
                END IF;
                DELETE FROM documents.patients WHERE id IN ({list});
              END IF;
            END $erasures$;

            """;
    }

    /// <summary>Deletes ledgered DNC records from a restored dnc database (the ids as 16 raw bytes, hex in the ledger).</summary>
    public static async Task<int> ApplyMariaDbAsync(string connectionString, string database, IReadOnlyList<ErasureEntry> entries, CancellationToken cancellationToken)
    {
        var ids = entries.Where(e => e.Kind == DncRecord && e.Key.Length == 32).Select(e => Convert.FromHexString(e.Key)).ToList();
        if (ids.Count == 0) return 0;
        var builder = new MySqlConnectionStringBuilder(connectionString) { Database = database };
        await using var connection = new MySqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var exists = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'dnc_preferences'", cancellationToken: cancellationToken));
        if (exists == 0) return 0;
        var removed = 0;
        foreach (var id in ids)
        {
            removed += await connection.ExecuteAsync(new CommandDefinition("DELETE FROM dnc_preferences WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        }
        return removed;
    }

    private static async Task<List<ErasureEntry>> PatientErasuresAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        if (await connection.ExecuteScalarAsync<string?>(new CommandDefinition("SELECT to_regclass('documents.access_log')::text", cancellationToken: cancellationToken)) is null)
        {
            return [];
        }
        var rows = await connection.QueryAsync<(Guid PatientId, DateTime At)>(new CommandDefinition(
            "SELECT patient_id, max(at) FROM documents.access_log WHERE action = 'patient.erase' AND outcome = 'erased' AND patient_id IS NOT NULL GROUP BY patient_id",
            cancellationToken: cancellationToken));
        return [.. rows.Select(r => new ErasureEntry(Patient, r.PatientId.ToString(), new DateTimeOffset(DateTime.SpecifyKind(r.At, DateTimeKind.Utc))))];
    }

    private static async Task<List<ErasureEntry>> DncErasuresAsync(string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new MySqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var exists = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'dnc_erasures'", cancellationToken: cancellationToken));
        if (exists == 0) return [];
        var rows = await connection.QueryAsync<(byte[] Id, DateTime At)>(new CommandDefinition("SELECT id, erased_at FROM dnc_erasures", cancellationToken: cancellationToken));
        return [.. rows.Select(r => new ErasureEntry(DncRecord, Convert.ToHexStringLower(r.Id), new DateTimeOffset(DateTime.SpecifyKind(r.At, DateTimeKind.Utc))))];
    }
}

/// <summary>Harvests erasures into the ledger on an interval (failures logged, retried next time).</summary>
internal sealed class ErasureHarvester(ErasureLedger ledger, Microsoft.Extensions.Options.IOptions<BackupOptions> options, TimeProvider time, ILogger<ErasureHarvester> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ledger.HarvestAsync(stoppingToken);
            }
            catch (Exception e) when (e is System.Data.Common.DbException or Amazon.Runtime.AmazonServiceException or HttpRequestException or InvalidRecordException)
            {
                Log.BackgroundFailed(logger, "erasure harvest", e.GetType().Name);
            }
            await Task.Delay(options.Value.ErasureHarvestInterval, time, stoppingToken);
        }
    }
}
