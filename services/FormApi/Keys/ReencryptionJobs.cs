using System.Data;
using System.Data.Common;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.Extensions.Options;
using Pii.Crypto;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;
using Pii.FormApi.Data;
using Pii.FormApi.Domain;

namespace Pii.FormApi.Keys;

/// <summary>
/// A job's state. <see cref="RowsRemaining"/> is a running count (rows under the source DEKs when the job or its pass
/// started, less those moved or quarantined since), so polling it costs nothing; rows erased meanwhile leave it high
/// until the pass ends and recounts. It is 0 exactly when the job finished: <c>completed</c> (every row moved) or
/// <c>incomplete</c> (every row moved but the <see cref="RowsQuarantined"/> ones, which do not decrypt: they stay
/// under their retired DEK, listed in <see cref="QuarantinedRecordIds"/> (the first 100), until repaired or erased).
/// </summary>
internal sealed record ReencryptionJob(
    Guid Id,
    int TargetDekId,
    IReadOnlyList<int> SourceDekIds,
    string Status,
    int Passes,
    long RowsReencrypted,
    long RowsSkipped,
    long RowsRemaining,
    long RowsQuarantined,
    IReadOnlyList<Guid> QuarantinedRecordIds,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    DateTime? FinishedAt);

/// <summary>
/// Moves rows off retired DEKs onto a job's target DEK. Keyset pagination per source DEK over <c>ix_dek (dek_id, id)</c>;
/// each batch's row updates and the job's cursor commit in one transaction, so a crash resumes after the last committed
/// batch. Each row update is conditional on the row_version read with it (a concurrent PATCH or erasure wins; that row is
/// retried in the next pass). The job completes only when no row under a source DEK is left; the intake's guarded INSERT and the update guard
/// trigger ensure no new row can appear under a retired DEK. updated_at is left alone: the content did not change, so the ETL need not re-read.
/// Speed (issue 5: ≥ 20,000 rows/s): one reader pages through the source DEK's rows while up to
/// <see cref="FormApiOptions.ReencryptionWriters"/> writers each re-encrypt a batch and write it with prepared multi-row
/// INSERTs (binary protocol: no hex text to build, send or parse) into a temporary table and one joined UPDATE. Writers
/// hold disjoint rows; each commits only after the batch before it committed, so the saved cursor only moves forward
/// over written batches.
/// A row that does not decrypt under its DEK (tampered, or naming a key that is gone) would otherwise stall the job
/// forever; it is quarantined instead (as the ETL does): recorded in <c>dek_reencryption_quarantine</c> with a reason
/// code in the same transaction as its batch, counted in the job and the metric <c>formapi.reencryption.quarantined</c>,
/// and not read again by this job.
/// </summary>
internal sealed class ReencryptionJobs(DncDatabase database, DekManager deks, IOptions<FormApiOptions> options, FormApiMetrics metrics, TimeProvider time)
{
    private const string Columns = "id, first_name, middle_name, last_name, phone, email, dek_id, row_version";
    /// <summary>cursor_dek_id value meaning "every source scanned in this pass".</summary>
    private const int EndOfPass = int.MaxValue;
    private const int ListedQuarantine = 100;
    /// <summary>Per-connection scratch table of one batch (dropped first in case a failed batch left it on a pooled connection).</summary>
    private const string CreateBatchTable = """
        DROP TEMPORARY TABLE IF EXISTS reencrypt_batch;
        CREATE TEMPORARY TABLE reencrypt_batch (id BINARY(16) NOT NULL PRIMARY KEY, v INT NOT NULL, c0 VARBINARY(1024) NOT NULL,
          c1 VARBINARY(1024) NULL, c2 VARBINARY(1024) NOT NULL, c3 VARBINARY(256) NOT NULL, c4 VARBINARY(1024) NOT NULL) ENGINE=InnoDB
        """;
    /// <summary>Rows per prepared INSERT into the scratch table (7 placeholders each, far below the protocol's 65,535).</summary>
    private const int RowsPerInsert = 250;
    private static readonly string[] PiiColumns = ["first_name", "middle_name", "last_name", "phone", "email"];

    public async Task<ReencryptionJob?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await LoadAsync(connection, DncDatabase.ToBytes(id), cancellationToken);
        if (row is null)
        {
            return null;
        }
        var sources = ParseSources(row.source_dek_ids);
        // Jobs created before the running count existed are counted here.
        long remaining = row.rows_remaining ?? (sources.Count == 0 ? 0 : await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM dnc_preferences WHERE dek_id IN @sources", new { sources }, cancellationToken: cancellationToken)));
        var quarantined = (await connection.QueryAsync<byte[]>(new CommandDefinition(
            "SELECT record_id FROM dek_reencryption_quarantine WHERE job_id = @id ORDER BY record_id LIMIT @limit",
            new { id = row.id, limit = ListedQuarantine }, cancellationToken: cancellationToken))).Select(DncDatabase.FromBytes).ToList();
        return new ReencryptionJob(DncDatabase.FromBytes(row.id), row.target_dek_id, sources, row.status, row.passes, row.rows_reencrypted, row.rows_skipped, remaining,
            row.rows_quarantined, quarantined, Utc(row.created_at), Utc(row.updated_at), row.finished_at is { } f ? Utc(f) : null);
    }

    /// <summary>The oldest running job, if any (after a restart this is the one to resume).</summary>
    public async Task<Guid?> NextRunningAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var id = await connection.ExecuteScalarAsync<byte[]?>(new CommandDefinition(
            "SELECT id FROM dek_reencryption_jobs WHERE status = 'running' ORDER BY created_at LIMIT 1", cancellationToken: cancellationToken));
        return id is null ? null : DncDatabase.FromBytes(id);
    }

    /// <summary>Runs the job from its saved cursor; stops after <paramref name="maxBatches"/> batches (null: until done). Returns true when finished.</summary>
    public async Task<bool> RunAsync(Guid jobId, int? maxBatches, CancellationToken cancellationToken)
    {
        int batches = 0;
        var idBytes = DncDatabase.ToBytes(jobId);
        while (true)
        {
            JobRow job;
            await using (var connection = await database.OpenAsync(cancellationToken))
            {
                var loaded = await LoadAsync(connection, idBytes, cancellationToken);
                if (loaded is null || loaded.status != "running")
                {
                    return loaded?.status is "completed" or "incomplete";
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
            var after = job.cursor_dek_id == source ? job.cursor_id : null;
            batches += await MoveSourceAsync(idBytes, job.target_dek_id, source, after, maxBatches - batches, cancellationToken);
            if (maxBatches is { } limit && batches >= limit)
            {
                return false;
            }
            // This source is done for this pass: move the cursor to the next source (or past the end).
            int nextSource = sourceIndex + 1 < sources.Count ? sources[sourceIndex + 1] : EndOfPass;
            await SaveCursorAsync(idBytes, nextSource, null, cancellationToken);
        }
    }

    /// <summary>Pages through the rows under <paramref name="source"/> after <paramref name="after"/>; returns the batches written.</summary>
    private async Task<int> MoveSourceAsync(byte[] jobId, int target, int source, byte[]? after, int? maxBatches, CancellationToken cancellationToken)
    {
        using var from = await deks.LeaseKeyAsync(source, cancellationToken);
        using var to = await deks.LeaseKeyAsync(target, cancellationToken);
        var writing = new Queue<Task>();
        Task previous = Task.CompletedTask;
        int batches = 0;
        try
        {
            while (maxBatches is null || batches < maxBatches)
            {
                var rows = await ReadBatchAsync(jobId, source, after, options.Value.ReencryptionBatchSize, cancellationToken);
                if (rows.Count == 0)
                {
                    break;
                }
                after = rows[^1].id;
                var predecessor = previous;
                previous = Task.Run(() => WriteBatchAsync(jobId, target, source, from.Key, to.Key, rows, predecessor, cancellationToken), cancellationToken);
                writing.Enqueue(previous);
                batches++;
                if (writing.Count >= options.Value.ReencryptionWriters)
                {
                    await writing.Dequeue();
                }
            }
        }
        finally
        {
            // Never leave a writer running with the leased keys disposed; the first failure is rethrown below.
            await Task.WhenAll(writing).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        await Task.WhenAll(writing);
        return batches;
    }

    /// <summary>The next rows under <paramref name="source"/>, without those this job already quarantined.</summary>
    private async Task<List<DncRecords.StoredRowForKeys>> ReadBatchAsync(byte[] jobId, int source, byte[]? after, int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var span = DncDatabase.StartSpan("SELECT", DncIntake.Table);
        return [.. await connection.QueryAsync<DncRecords.StoredRowForKeys>(new CommandDefinition(
            $"SELECT {Columns} FROM dnc_preferences p WHERE dek_id = @source AND id > @after "
            + "AND NOT EXISTS (SELECT 1 FROM dek_reencryption_quarantine q WHERE q.job_id = @jobId AND q.record_id = p.id) ORDER BY id LIMIT @batchSize",
            new { source, after = after ?? new byte[16], batchSize, jobId }, cancellationToken: cancellationToken))];
    }

    /// <summary>
    /// Re-encrypts and writes one batch in one transaction: the new ciphertexts go into a temporary table (prepared
    /// multi-row INSERTs), then one UPDATE joined on the primary key changes each row only if it is still under the source
    /// DEK with the row_version read with it (a concurrent PATCH or erasure wins and that row is retried in the next pass;
    /// an erased row is never brought back, as an upsert would). The update guard trigger still checks the target DEK per row.
    /// The job's cursor moves in the same transaction, committed only after <paramref name="predecessor"/> (the batch
    /// before) committed; if it failed, this batch rolls back too.
    /// </summary>
    private async Task WriteBatchAsync(byte[] jobId, int target, int source, FieldKey from, FieldKey to, List<DncRecords.StoredRowForKeys> rows,
        Task predecessor, CancellationToken cancellationToken)
    {
        var (movable, moved, quarantine) = Reencrypt(from, to, rows);
        using var span = DncDatabase.StartSpan("UPDATE", DncIntake.Table);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        long quarantined = 0;
        foreach (var (recordId, reason) in quarantine)
        {
            // IGNORE: a row quarantined by an earlier, rolled-back attempt of this batch is counted once.
            quarantined += await connection.ExecuteAsync(new CommandDefinition(
                "INSERT IGNORE INTO dek_reencryption_quarantine (job_id, record_id, dek_id, reason, quarantined_at) VALUES (@jobId, @recordId, @source, @reason, @now)",
                new { jobId, recordId, source, reason, now = time.GetUtcNow().UtcDateTime }, transaction, cancellationToken: cancellationToken));
        }
        await connection.ExecuteAsync(new CommandDefinition(CreateBatchTable, transaction: transaction, cancellationToken: cancellationToken));
        await InsertBatchAsync(connection, transaction, movable, moved, cancellationToken);
        long done = await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE dnc_preferences p JOIN reencrypt_batch t ON p.id = t.id
            SET p.first_name = t.c0, p.middle_name = t.c1, p.last_name = t.c2, p.phone = t.c3, p.email = t.c4, p.dek_id = @target, p.row_version = p.row_version + 1
            WHERE p.dek_id = @source AND p.row_version = t.v
            """, new { target, source }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition("DROP TEMPORARY TABLE reencrypt_batch", transaction: transaction, cancellationToken: cancellationToken));
        long skipped = movable.Count - done;
        await predecessor;
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE dek_reencryption_jobs SET cursor_dek_id = @source, cursor_id = @cursor, rows_reencrypted = rows_reencrypted + @done,
              rows_skipped = rows_skipped + @skipped, rows_quarantined = rows_quarantined + @quarantined,
              rows_remaining = GREATEST(rows_remaining - @done - @quarantined, 0), updated_at = @now WHERE id = @jobId
            """,
            new { source, cursor = rows[^1].id, done, skipped, quarantined, now = time.GetUtcNow().UtcDateTime, jobId }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        metrics.RowsReencrypted.Add(done);
        metrics.RowsSkipped.Add(skipped);
        metrics.RowsQuarantined.Add(quarantined);
    }

    /// <summary>
    /// The five PII cells of each row decrypted under <paramref name="from"/> and encrypted under <paramref name="to"/>
    /// (same context): the rows that decrypt with their new cells, and the ids of those that do not with a reason code.
    /// </summary>
    private static (List<DncRecords.StoredRowForKeys> Movable, List<byte[]?[]> Moved, List<(byte[] Id, string Reason)> Quarantine) Reencrypt(
        FieldKey from, FieldKey to, List<DncRecords.StoredRowForKeys> rows)
    {
        var movable = new List<DncRecords.StoredRowForKeys>(rows.Count);
        var moved = new List<byte[]?[]>(rows.Count);
        var quarantine = new List<(byte[], string)>();
        foreach (var row in rows)
        {
            var idText = DncDatabase.FromBytes(row.id).ToString("D");
            byte[]?[] values = [row.first_name, row.middle_name, row.last_name, row.phone, row.email];
            try
            {
                for (int i = 0; i < values.Length; i++)
                {
                    var context = new FieldContext(DncIntake.Table, PiiColumns[i], idText);
                    var plaintext = FieldCipher.Decrypt(from, values[i], context);
                    values[i] = FieldCipher.Encrypt(to, FieldMode.Randomized, plaintext, context);
                    if (plaintext is not null)
                    {
                        CryptographicOperations.ZeroMemory(plaintext);
                    }
                }
            }
            catch (CryptoException e)
            {
                quarantine.Add((row.id, ReasonCode(e)));
                continue;
            }
            movable.Add(row);
            moved.Add(values);
        }
        return (movable, moved, quarantine);
    }

    /// <summary>The quarantine reason codes the ETL uses for the same failures.</summary>
    private static string ReasonCode(CryptoException e) => e switch
    {
        TamperedException => "tampered",
        UnknownKeyException => "unknown_key",
        UnsupportedVersionException => "unsupported_version",
        TruncatedException => "truncated",
        _ => "malformed",
    };

    /// <summary>
    /// Inserts the batch into the scratch table: one prepared statement of <see cref="RowsPerInsert"/> rows executed with
    /// each full chunk's values, then one for the remainder. Only ids, row versions and ciphertexts are sent.
    /// </summary>
    private static async Task InsertBatchAsync(DbConnection connection, DbTransaction transaction, List<DncRecords.StoredRowForKeys> rows, List<byte[]?[]> moved,
        CancellationToken cancellationToken)
    {
        int fullChunks = rows.Count / RowsPerInsert;
        int start = 0;
        foreach (var (rowsPerStatement, statements) in new[] { (RowsPerInsert, fullChunks), (rows.Count % RowsPerInsert, 1) })
        {
            if (rowsPerStatement == 0 || statements == 0)
            {
                continue;
            }
            await using var insert = PrepareInsert(connection, transaction, rowsPerStatement);
            await insert.PrepareAsync(cancellationToken);
            for (int statement = 0; statement < statements; statement++, start += rowsPerStatement)
            {
                for (int r = 0; r < rowsPerStatement; r++)
                {
                    var row = rows[start + r];
                    insert.Parameters[r * 7].Value = row.id;
                    insert.Parameters[r * 7 + 1].Value = row.row_version;
                    for (int i = 0; i < 5; i++)
                    {
                        insert.Parameters[r * 7 + 2 + i].Value = (object?)moved[start + r][i] ?? DBNull.Value;
                    }
                }
                await insert.ExecuteNonQueryAsync(cancellationToken);
            }
        }
    }

    private static DbCommand PrepareInsert(DbConnection connection, DbTransaction transaction, int rowCount)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        var sql = new StringBuilder("INSERT INTO reencrypt_batch (id, v, c0, c1, c2, c3, c4) VALUES ");
        for (int r = 0; r < rowCount; r++)
        {
            sql.Append(r == 0 ? "(" : ",(");
            for (int c = 0; c < 7; c++)
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = string.Create(CultureInfo.InvariantCulture, $"@p{r}_{c}");
                parameter.DbType = c == 1 ? DbType.Int32 : DbType.Binary;
                command.Parameters.Add(parameter);
                sql.Append(c == 0 ? "" : ",").Append(parameter.ParameterName);
            }
            sql.Append(')');
        }
        command.CommandText = sql.ToString();
        return command;
    }

    private static Task<JobRow?> LoadAsync(DbConnection connection, byte[] jobId, CancellationToken cancellationToken) =>
        connection.QueryFirstOrDefaultAsync<JobRow>(new CommandDefinition(
            "SELECT id, target_dek_id, source_dek_ids, status, passes, rows_reencrypted, rows_skipped, rows_remaining, rows_quarantined, created_at, updated_at, finished_at, cursor_dek_id, cursor_id FROM dek_reencryption_jobs WHERE id = @id",
            new { id = jobId }, cancellationToken: cancellationToken));

    private async Task SaveCursorAsync(byte[] jobId, int? sourceDek, byte[]? cursor, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE dek_reencryption_jobs SET cursor_dek_id = @sourceDek, cursor_id = @cursor, updated_at = @now WHERE id = @jobId",
            new { sourceDek, cursor, now = time.GetUtcNow().UtcDateTime, jobId }, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// End of a pass: done when nothing but quarantined rows is left under a source DEK (status <c>completed</c>, or
    /// <c>incomplete</c> when rows were quarantined); otherwise start another pass from the top.
    /// </summary>
    private async Task<bool> FinishPassAsync(byte[] jobId, List<int> sources, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        long remaining = sources.Count == 0 ? 0 : await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM dnc_preferences p WHERE dek_id IN @sources "
            + "AND NOT EXISTS (SELECT 1 FROM dek_reencryption_quarantine q WHERE q.job_id = @jobId AND q.record_id = p.id)",
            new { sources, jobId }, cancellationToken: cancellationToken));
        metrics.Remaining = remaining;
        var now = time.GetUtcNow().UtcDateTime;
        if (remaining == 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE dek_reencryption_jobs SET status = IF(rows_quarantined > 0, 'incomplete', 'completed'), passes = passes + 1, rows_remaining = 0, "
                + "updated_at = @now, finished_at = @now WHERE id = @jobId AND status = 'running'",
                new { now, jobId }, cancellationToken: cancellationToken));
            return true;
        }
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE dek_reencryption_jobs SET cursor_dek_id = NULL, cursor_id = NULL, passes = passes + 1, rows_remaining = @remaining, updated_at = @now WHERE id = @jobId",
            new { now, remaining, jobId }, cancellationToken: cancellationToken));
        return false;
    }

    private static List<int> ParseSources(string text) =>
        text.Length == 0 ? [] : [.. text.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))];

    private static DateTime Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);

    private sealed record JobRow(byte[] id, int target_dek_id, string source_dek_ids, string status, int passes, long rows_reencrypted, long rows_skipped,
        long? rows_remaining, long rows_quarantined, DateTime created_at, DateTime updated_at, DateTime? finished_at, int? cursor_dek_id, byte[]? cursor_id);
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
