using System.Diagnostics;
using Amazon.Runtime;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;
using Pii.Crypto;
using Pii.Crypto.Transit;
using Pii.DocumentService.Documents;

namespace Pii.BackupService.Backups;

/// <summary>A failure with a reason fit for the attempt record and the API (no data, no secrets, no exception text).</summary>
internal sealed class BackupFailedException(string reason) : Exception(reason);

/// <summary>
/// Runs backups: snapshot + row counts, dump process, <see cref="BackupPipeline"/> into an S3 multipart upload, then the
/// manifest. Until the manifest is written a <c>running/</c> marker names the upload; on any failure (dump exit code,
/// killed dump, S3, key service, cancellation) the upload is aborted, a completed object deleted, the attempt recorded
/// as failed with its reason, and the marker removed — so nothing that looks like a backup remains. If the clean-up
/// itself fails, or the process dies, the marker stays and <see cref="BackupSweeper"/> finishes the job at the next start.
/// </summary>
internal sealed class BackupRunner(
    DumpTools tools, KeyServiceSnapshots snapshots, BackupRepository repository, BackupKeys keys, BackupKeyrings keyrings, BackupCatalog catalog,
    AuditTrail audit, BackupTelemetry telemetry, IOptions<BackupOptions> options, TimeProvider time, IHostApplicationLifetime lifetime,
    ILogger<BackupRunner> logger) : IDisposable
{
    private readonly BackupOptions _options = options.Value;
    private readonly SemaphoreSlim _slots = new(options.Value.MaxConcurrentBackups, options.Value.MaxConcurrentBackups);

    /// <summary>Starts a backup in the background (bounded by MaxConcurrentBackups) and returns its job at once.</summary>
    public BackupJob Start(BackupSource source, string actor)
    {
        var id = Guid.CreateVersion7();
        var startedAt = time.GetUtcNow();
        var job = new BackupJob(id, source.Name, BackupRepository.DataKey(source.Name, id, startedAt), startedAt);
        catalog.Add(job);
        job.Completion = Task.Run(() => RunAsync(source, job, actor, lifetime.ApplicationStopping));
        return job;
    }

    private async Task RunAsync(BackupSource source, BackupJob job, string actor, CancellationToken cancellationToken)
    {
        using var activity = BackupTelemetry.Activities.StartActivity("backup");
        activity?.SetTag("backup.source", source.Name);
        activity?.SetTag("backup.id", job.Id.ToString());
        try
        {
            await _slots.WaitAsync(cancellationToken);
            try
            {
                var manifest = await BackupAsync(source, job, cancellationToken);
                job.Manifest = manifest;
                job.FinishedAt = manifest.CompletedAt;
                job.State = BackupState.Completed;
                telemetry.Outcomes.Add(1, new("source", source.Name), new("outcome", "completed"));
                telemetry.Duration.Record((manifest.CompletedAt - manifest.StartedAt).TotalSeconds, new KeyValuePair<string, object?>("source", source.Name));
                telemetry.Succeeded(source.Name, manifest.CompletedAt);
                Log.BackupCompleted(logger, job.Id, source.Name, manifest.PlaintextBytes, manifest.ObjectBytes, (manifest.CompletedAt - manifest.StartedAt).TotalSeconds);
                await audit.WriteAsync("backup", source.Name, job.Id, actor, manifest.Encryption.KeyServiceUnavailable ? "completed-recovery-key-only" : "completed");
            }
            finally
            {
                _slots.Release();
            }
        }
        catch (Exception e) when (Reason(e, cancellationToken) is { } reason)
        {
            job.FailureReason = reason;
            job.FinishedAt = time.GetUtcNow();
            activity?.SetStatus(ActivityStatusCode.Error, reason);
            telemetry.Outcomes.Add(1, new("source", source.Name), new("outcome", "failed"));
            Log.BackupFailed(logger, job.Id, source.Name, reason);
            await RecordFailureAsync(job, reason);
            // Failed only once recorded and cleaned up: whoever sees the state sees the final S3 contents.
            job.State = BackupState.Failed;
            try
            {
                await audit.WriteAsync("backup", source.Name, job.Id, actor, "failed", reason);
            }
            catch (Exception auditError) when (auditError is AmazonServiceException or HttpRequestException or OperationCanceledException)
            {
                Log.CleanupFailed(logger, job.Id, auditError.GetType().Name);
            }
        }
    }

    private async Task<Manifest> BackupAsync(BackupSource source, BackupJob job, CancellationToken cancellationToken)
    {
        var keyring = keyrings.ForBackup(source.RecoveryKeyOnly);
        var context = new Dictionary<string, string>
        {
            ["pii-backup"] = "v1",
            ["source"] = source.Name,
            ["backup-id"] = job.Id.ToString(),
            ["created"] = job.StartedAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        };
        var started = await repository.S3.InitiateMultipartUploadAsync(
            new InitiateMultipartUploadRequest { BucketName = repository.Bucket, Key = job.ObjectKey, ContentType = "application/octet-stream" }, cancellationToken);
        await repository.PutRunningAsync(new RunningMarker(job.Id, source.Name, job.ObjectKey, started.UploadId, job.StartedAt), cancellationToken);
        var completed = false;
        using var sink = new S3MultipartWriteStream(repository.S3, repository.Bucket, job.ObjectKey, started.UploadId, _options.PartSize, _options.MaxPartsInFlight);
        try
        {
            using var hash = keys.CreatePlaintextHash(job.Id);
            var (result, counts, tool, fromSnapshot) = source.Engine switch
            {
                SourceEngine.Postgres => await DumpPostgresAsync(source, sink, keyring, context, hash, job, cancellationToken),
                SourceEngine.MariaDb => await DumpMariaDbAsync(source, sink, keyring, context, hash, job, cancellationToken),
                _ => await SnapshotKeyServiceAsync(sink, keyring, context, hash, job, cancellationToken),
            };
            var keyServiceDown = keyring.RecoveryOnly && !source.RecoveryKeyOnly;
            job.KeyServiceUnavailable = keyServiceDown;
            if (keyServiceDown) Log.RecoveryOnly(logger, job.Id, source.Name, keyring.KeyServiceError ?? "unreachable");
            await sink.CompleteAsync(cancellationToken);
            completed = true;
            telemetry.DumpBytes.Add(result.PlaintextBytes, new KeyValuePair<string, object?>("source", source.Name));
            telemetry.StoredBytes.Add(result.ObjectBytes, new KeyValuePair<string, object?>("source", source.Name));
            var manifest = new Manifest
            {
                Id = job.Id,
                Source = source.Name,
                Engine = source.Engine.ToString(),
                ObjectKey = job.ObjectKey,
                StartedAt = job.StartedAt,
                CompletedAt = time.GetUtcNow(),
                DumpTool = source.Engine == SourceEngine.KeyService ? "sys/storage/raft/snapshot" : Path.GetFileName(tool),
                DumpToolVersion = source.Engine == SourceEngine.KeyService ? tool : await tools.VersionAsync(tool, cancellationToken),
                DumpFormat = source.Engine switch
                {
                    SourceEngine.Postgres => "pg_dump custom archive (-Fc -Z0)",
                    SourceEngine.MariaDb => "mariadb-dump SQL (--single-transaction)",
                    _ => "key service store snapshot (SQLite online backup, sealed rows)",
                },
                PlaintextBytes = result.PlaintextBytes,
                CompressedBytes = result.CompressedBytes,
                ObjectBytes = result.ObjectBytes,
                PlaintextHmacSha256 = Convert.ToHexStringLower(result.PlaintextHash),
                ObjectSha256 = Convert.ToHexStringLower(result.ObjectSha256),
                RowCounts = counts,
                RowCountsFromDumpSnapshot = fromSnapshot,
                Compression = new CompressionInfo("zstd", _options.CompressionLevel),
                Encryption = new EncryptionInfo("aws-encryption-sdk-message-v2", "0x0478", _options.FrameLength, context,
                    keyrings.References(keyring.RecoveryOnly), keyServiceDown, keyring.RecoveryOnly),
            };
            await repository.PutManifestAsync(manifest, cancellationToken);
            await repository.DeleteRunningAsync(job.Id, CancellationToken.None);
            return manifest;
        }
        catch
        {
            await sink.DrainAsync();
            await CleanUpAsync(job, started.UploadId, completed);
            throw;
        }
    }

    private async Task<(PipelineResult, SortedDictionary<string, long>, string, bool)> DumpPostgresAsync(
        BackupSource source, Stream sink, RecoveryFallbackKeyring keyring, Dictionary<string, string> context,
        System.Security.Cryptography.IncrementalHash hash, BackupJob job, CancellationToken cancellationToken)
    {
        await using var snapshot = await PostgresSnapshot.ExportAsync(source.ConnectionString, cancellationToken);
        using var dump = tools.StartPgDump(source.ConnectionString, snapshot.Id);
        var result = await PumpAsync(dump, sink, keyring, context, hash, job, cancellationToken);
        // Counted after the dump finished, in the same exported snapshot: the counts describe exactly the dumped rows.
        var counts = await snapshot.CountRowsAsync(cancellationToken);
        return (result, counts, tools.PgDump, true);
    }

    private async Task<(PipelineResult, SortedDictionary<string, long>, string, bool)> DumpMariaDbAsync(
        BackupSource source, Stream sink, RecoveryFallbackKeyring keyring, Dictionary<string, string> context,
        System.Security.Cryptography.IncrementalHash hash, BackupJob job, CancellationToken cancellationToken)
    {
        var counts = await MariaDbRowCounts.CountAsync(source.ConnectionString, null, cancellationToken);
        using var dump = tools.StartMariaDbDump(source.ConnectionString);
        var result = await PumpAsync(dump, sink, keyring, context, hash, job, cancellationToken);
        return (result, counts, tools.MariaDbDump, false);
    }

    /// <summary>
    /// The key service's own store from its snapshot endpoint (bounded: a store of sealed key rings and token hashes),
    /// always wrapped for the recovery key only: never under keys that live inside what it backs up.
    /// </summary>
    private async Task<(PipelineResult, SortedDictionary<string, long>, string, bool)> SnapshotKeyServiceAsync(
        Stream sink, RecoveryFallbackKeyring keyring, Dictionary<string, string> context, System.Security.Cryptography.IncrementalHash hash,
        BackupJob job, CancellationToken cancellationToken)
    {
        var (snapshot, version) = await snapshots.GetAsync(cancellationToken);
        using var plaintext = new MemoryStream(snapshot, writable: false);
        try
        {
            var result = await BackupPipeline.RunAsync(plaintext, sink, keyring, context, hash, _options.FrameLength,
                _options.CompressionLevel, _options.CompressionThreads, bytes => job.BytesDone = bytes, cancellationToken);
            return (result, new SortedDictionary<string, long>(StringComparer.Ordinal), $"pii-kms {version}", true);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(snapshot);
        }
    }

    /// <summary>Runs the pipeline over the dump's stdout; the dump must then exit 0 and have written something.</summary>
    private async Task<PipelineResult> PumpAsync(
        ChildProcess dump, Stream sink, RecoveryFallbackKeyring keyring, Dictionary<string, string> context,
        System.Security.Cryptography.IncrementalHash hash, BackupJob job, CancellationToken cancellationToken)
    {
        PipelineResult result;
        try
        {
            result = await BackupPipeline.RunAsync(dump.StandardOutput, sink, keyring, context, hash, _options.FrameLength,
                _options.CompressionLevel, _options.CompressionThreads, bytes => job.BytesDone = bytes, cancellationToken);
        }
        catch
        {
            dump.Kill();
            throw;
        }
        var exitCode = await dump.WaitAsync(cancellationToken);
        if (exitCode != 0) throw new BackupFailedException($"{dump.Tool} exited with code {exitCode} ({dump.StandardErrorBytes} bytes on stderr, not kept)");
        if (result.PlaintextBytes == 0) throw new BackupFailedException($"{dump.Tool} wrote nothing");
        return result;
    }

    /// <summary>Aborts the upload (or deletes the completed object) and removes the marker; never with the job's token.</summary>
    private async Task CleanUpAsync(BackupJob job, string uploadId, bool completed)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            if (completed)
            {
                await repository.DeleteAsync(job.ObjectKey, limit.Token);
            }
            else
            {
                await repository.AbortUploadAsync(job.ObjectKey, uploadId, limit.Token);
            }
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or OperationCanceledException)
        {
            Log.CleanupFailed(logger, job.Id, e.GetType().Name);
        }
    }

    private async Task RecordFailureAsync(BackupJob job, string reason)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await repository.PutAttemptAsync(new FailedAttempt(job.Id, job.Source, job.StartedAt, job.FinishedAt ?? time.GetUtcNow(), reason), limit.Token);
            await repository.DeleteRunningAsync(job.Id, limit.Token);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or OperationCanceledException)
        {
            Log.CleanupFailed(logger, job.Id, e.GetType().Name);
        }
    }

    /// <summary>The reason recorded for a failed backup; null for an exception that is a bug (it propagates).</summary>
    public static string? Reason(Exception e, CancellationToken cancellationToken) => e switch
    {
        BackupFailedException => e.Message,
        OperationCanceledException when cancellationToken.IsCancellationRequested => "interrupted: the service is stopping",
        TransitException => $"key service refused ({e.GetType().Name})",
        AmazonServiceException s3 => $"object storage failed ({s3.StatusCode} {s3.ErrorCode})",
        Npgsql.NpgsqlException => $"database failed ({e.GetType().Name})",
        MySqlConnector.MySqlException => $"database failed ({e.GetType().Name})",
        CryptoException => $"encryption failed ({e.GetType().Name})",
        HttpRequestException or TimeoutException or OperationCanceledException => $"a dependency is unreachable ({e.GetType().Name})",
        IOException or System.ComponentModel.Win32Exception => $"dump stream failed ({e.GetType().Name})",
        InvalidOperationException => $"dump tool failed ({e.GetType().Name})",
        _ => null,
    };

    public void Dispose() => _slots.Dispose();
}
