using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Extensions.Options;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;
using Pii.FormApi.Data;
using Pii.FormApi.Domain;

namespace Pii.FormApi.Keys;

internal sealed record ReencryptionJob(
    Guid Id,
    int TargetDekId,
    IReadOnlyList<int> SourceDekIds,
    string Status,
    int Passes,
    long RowsReencrypted,
    long RowsSkipped,
    long RowsRemaining,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    DateTime? FinishedAt);

/// <summary>
/// Moves rows off retired DEKs onto a job's target DEK. Keyset pagination per source DEK over <c>ix_dek (dek_id, id)</c>;
/// each batch's row updates and the job's cursor commit in one transaction, so a crash resumes after the last committed
/// batch. Each row update is conditional on the row_version read with it (a concurrent PATCH or erasure wins; that row is
/// retried in the next pass). The job completes only when no row under a source DEK is left; the guard trigger ensures no
/// new row can appear under a retired DEK. updated_at is left alone: the content did not change, so the ETL need not re-read.
/// Speed (issue 5: ≥ 20,000 rows/s): a batch is written with a few multi-row INSERTs into a temporary table and one joined
/// UPDATE instead of one statement per row, and the next batch is read and re-encrypted in memory while one is written.
/// </summary>
internal sealed class ReencryptionJobs(DncDatabase database, DekManager deks, IOptions<FormApiOptions> options, FormApiMetrics metrics, TimeProvider time)
{
    private const string Columns = "id, first_name, middle_name, last_name, phone, email, dek_id, row_version";
    /// <summary>cursor_dek_id value meaning "every source scanned in this pass".</summary>
    private const int EndOfPass = int.MaxValue;
    /// <summary>Per-connection scratch table of one batch (dropped first in case a failed batch left it on a pooled connection).</summary>
    private const string CreateBatchTable = """
        DROP TEMPORARY TABLE IF EXISTS reencrypt_batch;
        CREATE TEMPORARY TABLE reencrypt_batch (id BINARY(16) NOT NULL PRIMARY KEY, v INT NOT NULL, c0 VARBINARY(1024) NOT NULL,
          c1 VARBINARY(1024) NULL, c2 VARBINARY(1024) NOT NULL, c3 VARBINARY(256) NOT NULL, c4 VARBINARY(1024) NOT NULL) ENGINE=InnoDB
        """;
    /// <summary>Rows per INSERT into the scratch table: 500 rows of maximal cells (≈ 4.3 KiB, 8.7 KiB as hex) are ≈ 4.4 MB.</summary>
    private const int RowsPerInsert = 500;
    private static readonly string[] PiiColumns = ["first_name", "middle_name", "last_name", "phone", "email"];

    public async Task<ReencryptionJob?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QueryFirstOrDefaultAsync<JobRow>(new CommandDefinition(
            "SELECT id, target_dek_id, source_dek_ids, status, passes, rows_reencrypted, rows_skipped, created_at, updated_at, finished_at, cursor_dek_id, cursor_id FROM dek_reencryption_jobs WHERE id = @id",
            new { id = DncDatabase.ToBytes(id) }, cancellationToken: cancellationToken));
        if (row is null)
        {
            return null;
        }
        var sources = ParseSources(row.source_dek_ids);
        long remaining = sources.Count == 0 ? 0 : await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM dnc_preferences WHERE dek_id IN @sources", new { sources }, cancellationToken: cancellationToken));
        return new ReencryptionJob(DncDatabase.FromBytes(row.id), row.target_dek_id, sources, row.status, row.passes, row.rows_reencrypted, row.rows_skipped, remaining,
            Utc(row.created_at), Utc(row.updated_at), row.finished_at is { } f ? Utc(f) : null);
    }

    /// <summary>The oldest running job, if any (after a restart this is the one to resume).</summary>
    public async Task<Guid?> NextRunningAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var id = await connection.ExecuteScalarAsync<byte[]?>(new CommandDefinition(
            "SELECT id FROM dek_reencryption_jobs WHERE status = 'running' ORDER BY created_at LIMIT 1", cancellationToken: cancellationToken));
        return id is null ? null : DncDatabase.FromBytes(id);
    }

    /// <summary>Runs the job from its saved cursor; stops after <paramref name="maxBatches"/> batches (null: until done). Returns true when completed.</summary>
    public async Task<bool> RunAsync(Guid jobId, int? maxBatches, CancellationToken cancellationToken)
    {
        int batchSize = options.Value.ReencryptionBatchSize;
        int batches = 0;
        var idBytes = DncDatabase.ToBytes(jobId);
        while (true)
        {
            JobRow job;
            await using (var connection = await database.OpenAsync(cancellationToken))
            {
                var loaded = await connection.QueryFirstOrDefaultAsync<JobRow>(new CommandDefinition(
                    "SELECT id, target_dek_id, source_dek_ids, status, passes, rows_reencrypted, rows_skipped, created_at, updated_at, finished_at, cursor_dek_id, cursor_id FROM dek_reencryption_jobs WHERE id = @id",
                    new { id = idBytes }, cancellationToken: cancellationToken));
                if (loaded is null || loaded.status != "running")
                {
                    return loaded?.status == "completed";
                }
                job = loaded;
            }
            var sources = ParseSources(job.source_dek_ids);
            int sourceIndex = job.cursor_dek_id switch
            {
                null => 0,
                EndOfPass => sources.Count,
                int cursorDek => Math.Max(0, sources.IndexOf(cursorDek)),
            };
            if (sourceIndex >= sources.Count)
            {
                if (await FinishPassAsync(idBytes, sources, cancellationToken))
                {
                    return true;
                }
                continue;
            }
            int source = sources[sourceIndex];
            var batch = await PrepareBatchAsync(job.target_dek_id, source, job.cursor_dek_id == source ? job.cursor_id : null, batchSize, cancellationToken);
            while (batch.Rows.Count > 0)
            {
                // Read and re-encrypt the next batch on another thread while this one is written: the two hold different
                // rows, every write is guarded by row_version, and only a written batch moves the saved cursor.
                var after = batch.Rows[^1].id;
                int target = job.target_dek_id;
                var next = Task.Run(() => PrepareBatchAsync(target, source, after, batchSize, cancellationToken), cancellationToken);
                var written = WriteBatchAsync(idBytes, target, source, batch, cancellationToken);
                await Task.WhenAll(next, written);
                if (maxBatches is { } limit && ++batches >= limit)
                {
                    return false;
                }
                batch = await next;
            }
            // This source is done for this pass: move the cursor to the next source (or past the end).
            int nextSource = sourceIndex + 1 < sources.Count ? sources[sourceIndex + 1] : EndOfPass;
            await SaveCursorAsync(idBytes, nextSource, null, cancellationToken);
        }
    }

    private sealed record PreparedBatch(List<DncRecords.StoredRowForKeys> Rows, List<string> Inserts);

    private async Task<PreparedBatch> PrepareBatchAsync(int target, int source, byte[]? after, int batchSize, CancellationToken cancellationToken)
    {
        var rows = await ReadBatchAsync(source, after, batchSize, cancellationToken);
        if (rows.Count == 0)
        {
            return new PreparedBatch(rows, []);
        }
        using var from = await deks.LeaseKeyAsync(source, cancellationToken);
        using var to = await deks.LeaseKeyAsync(target, cancellationToken);
        return new PreparedBatch(rows, BuildBatchInserts(from.Key, to.Key, rows));
    }

    private async Task<List<DncRecords.StoredRowForKeys>> ReadBatchAsync(int source, byte[]? after, int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var span = DncDatabase.StartSpan("SELECT", DncIntake.Table);
        return [.. await connection.QueryAsync<DncRecords.StoredRowForKeys>(new CommandDefinition(
            $"SELECT {Columns} FROM dnc_preferences WHERE dek_id = @source AND id > @after ORDER BY id LIMIT @batchSize",
            new { source, after = after ?? new byte[16], batchSize }, cancellationToken: cancellationToken))];
    }

    /// <summary>
    /// Writes one batch in one transaction: the new ciphertexts go into a temporary table (one multi-row INSERT), then
    /// one UPDATE joined on the primary key changes each row only if it is still under the source DEK with the
    /// row_version read with it (a concurrent PATCH or erasure wins and that row is retried in the next pass; an erased
    /// row is never brought back, as an upsert would). The guard trigger still checks the target DEK per row. The job's
    /// cursor moves in the same transaction.
    /// </summary>
    private async Task WriteBatchAsync(byte[] jobId, int target, int source, PreparedBatch batch, CancellationToken cancellationToken)
    {
        var rows = batch.Rows;
        using var span = DncDatabase.StartSpan("UPDATE", DncIntake.Table);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(CreateBatchTable, transaction: transaction, cancellationToken: cancellationToken));
        foreach (var insert in batch.Inserts)
        {
            await connection.ExecuteAsync(new CommandDefinition(insert, transaction: transaction, cancellationToken: cancellationToken));
        }
        long done = await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE dnc_preferences p JOIN reencrypt_batch t ON p.id = t.id
            SET p.first_name = t.c0, p.middle_name = t.c1, p.last_name = t.c2, p.phone = t.c3, p.email = t.c4, p.dek_id = @target, p.row_version = p.row_version + 1
            WHERE p.dek_id = @source AND p.row_version = t.v
            """, new { target, source }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition("DROP TEMPORARY TABLE reencrypt_batch", transaction: transaction, cancellationToken: cancellationToken));
        long skipped = rows.Count - done;
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE dek_reencryption_jobs SET cursor_dek_id = @source, cursor_id = @cursor, rows_reencrypted = rows_reencrypted + @done,
              rows_skipped = rows_skipped + @skipped, updated_at = @now WHERE id = @jobId
            """,
            new { source, cursor = rows[^1].id, done, skipped, now = time.GetUtcNow().UtcDateTime, jobId }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        metrics.RowsReencrypted.Add(done);
        metrics.RowsSkipped.Add(skipped);
    }

    /// <summary>
    /// The batch's new ciphertexts as multi-row INSERTs into the connection's temporary table, at most
    /// <see cref="RowsPerInsert"/> rows each so that even maximal cells stay far below max_allowed_packet (hex literals:
    /// only ids and ciphertexts, never plaintext, and no parameter substitution over thousands of placeholders).
    /// </summary>
    private static List<string> BuildBatchInserts(FieldKey from, FieldKey to, List<DncRecords.StoredRowForKeys> rows)
    {
        var inserts = new List<string>();
        var sql = new StringBuilder(RowsPerInsert * 700);
        for (int r = 0; r < rows.Count; r++)
        {
            var row = rows[r];
            if (r % RowsPerInsert == 0)
            {
                if (r > 0)
                {
                    inserts.Add(sql.ToString());
                }
                sql.Clear().Append("INSERT INTO reencrypt_batch (id, v, c0, c1, c2, c3, c4) VALUES ");
            }
            var idText = DncDatabase.FromBytes(row.id).ToString("D");
            byte[]?[] values = [row.first_name, row.middle_name, row.last_name, row.phone, row.email];
            sql.Append(r % RowsPerInsert == 0 ? "(" : ",(");
            AppendHex(sql, row.id).Append(',').Append(row.row_version.ToString(CultureInfo.InvariantCulture));
            for (int i = 0; i < values.Length; i++)
            {
                var context = new FieldContext(DncIntake.Table, PiiColumns[i], idText);
                var plaintext = FieldCipher.Decrypt(from, values[i], context);
                var moved = FieldCipher.Encrypt(to, FieldMode.Randomized, plaintext, context);
                if (plaintext is not null)
                {
                    CryptographicOperations.ZeroMemory(plaintext);
                }
                sql.Append(',');
                if (moved is null)
                {
                    sql.Append("NULL");
                }
                else
                {
                    AppendHex(sql, moved);
                }
            }
            sql.Append(')');
        }
        inserts.Add(sql.ToString());
        return inserts;
    }

    private static StringBuilder AppendHex(StringBuilder sql, byte[] value) => sql.Append("X'").Append(Convert.ToHexString(value)).Append('\'');

    private async Task SaveCursorAsync(byte[] jobId, int? sourceDek, byte[]? cursor, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE dek_reencryption_jobs SET cursor_dek_id = @sourceDek, cursor_id = @cursor, updated_at = @now WHERE id = @jobId",
            new { sourceDek, cursor, now = time.GetUtcNow().UtcDateTime, jobId }, cancellationToken: cancellationToken));
    }

    /// <summary>End of a pass: done when nothing is left under a source DEK; otherwise start another pass from the top.</summary>
    private async Task<bool> FinishPassAsync(byte[] jobId, List<int> sources, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        long remaining = sources.Count == 0 ? 0 : await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM dnc_preferences WHERE dek_id IN @sources", new { sources }, cancellationToken: cancellationToken));
        metrics.Remaining = remaining;
        var now = time.GetUtcNow().UtcDateTime;
        if (remaining == 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE dek_reencryption_jobs SET status = 'completed', passes = passes + 1, updated_at = @now, finished_at = @now WHERE id = @jobId AND status = 'running'",
                new { now, jobId }, cancellationToken: cancellationToken));
            return true;
        }
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE dek_reencryption_jobs SET cursor_dek_id = NULL, cursor_id = NULL, passes = passes + 1, updated_at = @now WHERE id = @jobId",
            new { now, jobId }, cancellationToken: cancellationToken));
        return false;
    }

    private static List<int> ParseSources(string text) =>
        text.Length == 0 ? [] : [.. text.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];

    private static DateTime Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);

    private sealed record JobRow(byte[] id, int target_dek_id, string source_dek_ids, string status, int passes, long rows_reencrypted, long rows_skipped,
        DateTime created_at, DateTime updated_at, DateTime? finished_at, int? cursor_dek_id, byte[]? cursor_id);
}

/// <summary>Runs queued re-encryption jobs in the back office, resuming any job left running by a previous process.</summary>
internal sealed class ReencryptionWorker(ReencryptionJobs jobs, IOptions<FormApiOptions> options, ILogger<ReencryptionWorker> logger) : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0);

    public void Wake() => _wake.Release();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.ReencryptionInBackground)
        {
            return;
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await jobs.NextRunningAsync(stoppingToken) is { } job)
                {
                    Log.JobRunning(logger, job);
                    bool completed = await jobs.RunAsync(job, maxBatches: null, stoppingToken);
                    Log.JobStopped(logger, job, completed);
                    continue;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The job's cursor is committed per batch: log the failure type (never data) and retry from there.
                Log.JobFailed(logger, e.GetType().Name);
            }
            await _wake.WaitAsync(TimeSpan.FromSeconds(5), stoppingToken);
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}
