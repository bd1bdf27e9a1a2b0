using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Amazon.S3.Model;
using MySqlConnector;
using Npgsql;
using Pii.BackupService.Erasures;
using Pii.Crypto;

namespace Pii.BackupService.Backups;

internal sealed record VerifyResult(Guid Id, bool Verified, string Level, long PlaintextBytes, long ObjectBytes, string? Reason);

internal sealed record TableCount(long Expected, long Restored);

internal sealed record RestoreResult(
    Guid Id, string Source, string Target, string Database, bool RowCountsMatch, IReadOnlyDictionary<string, TableCount> RowCounts,
    int ErasuresInLedger, double Seconds);

/// <summary>A restore that cannot be done as asked (a 409 for the API): recovery-key-only backup, no restore login.</summary>
internal sealed class RestoreRefusedException(string message) : Exception(message);

/// <summary>
/// Verify: stream the object, authenticate every frame, decompress, compare the keyed plaintext hash, sizes, object hash
/// and the authenticated encryption context with the manifest. Restore: the same stream into pg_restore → psql (one
/// transaction that also checks every table's row count against the manifest and re-applies the erasure ledger, so a
/// bad or incomplete restore never commits and an erased subject never becomes visible) or into the mariadb client
/// (then counts and the ledger). Scratch targets are fresh databases; in-place needs the explicit confirmation.
/// </summary>
internal sealed partial class RestoreRunner(
    BackupRepository repository, BackupKeys keys, BackupKeyrings keyrings, BackupSources sources, DumpTools tools, ErasureLedger ledger,
    TimeProvider time)
{
    public async Task<VerifyResult> VerifyAsync(Manifest manifest, CancellationToken cancellationToken)
    {
        using var activity = BackupTelemetry.Activities.StartActivity("verify");
        activity?.SetTag("backup.id", manifest.Id.ToString());
        using var response = await repository.S3.GetObjectAsync(new GetObjectRequest { BucketName = repository.Bucket, Key = manifest.ObjectKey }, cancellationToken);
        if (manifest.Encryption.RecoveryKeyOnly)
        {
            // Only the offline key opens it: what can be checked here is that the stored bytes are the ones described.
            using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            var counted = new HashingStream(response.ResponseStream, sha);
            await counted.CopyToAsync(Stream.Null, cancellationToken);
            var same = Convert.ToHexStringLower(sha.GetHashAndReset()) == manifest.ObjectSha256 && counted.Bytes == manifest.ObjectBytes;
            return new VerifyResult(manifest.Id, same, "object-hash", 0, counted.Bytes, same ? null : "the stored object differs from the one the manifest describes");
        }
        try
        {
            using var hash = keys.CreatePlaintextHash(manifest.Id);
            var result = await ReadBackPipeline.RunAsync(response.ResponseStream, null, keyrings.Transit, hash, null, cancellationToken);
            var problem = Compare(manifest, result);
            return new VerifyResult(manifest.Id, problem is null, "decrypted", result.PlaintextBytes, result.ObjectBytes, problem);
        }
        catch (Exception e) when (e is CryptoException or ZstdSharp.ZstdException)
        {
            return new VerifyResult(manifest.Id, false, "decrypted", 0, 0, $"the object failed its integrity check ({e.GetType().Name})");
        }
    }

    public async Task<RestoreResult> RestoreAsync(Manifest manifest, bool inPlace, CancellationToken cancellationToken)
    {
        using var activity = BackupTelemetry.Activities.StartActivity("restore");
        activity?.SetTag("backup.id", manifest.Id.ToString());
        activity?.SetTag("backup.target", inPlace ? "in-place" : "scratch");
        if (manifest.Encryption.RecoveryKeyOnly)
        {
            throw new RestoreRefusedException("This backup is wrapped for the offline recovery key only: restore it with 'pii backup restore' (README, recovery runbook).");
        }
        var source = sources.Find(manifest.Source) ?? throw new RestoreRefusedException($"Source '{manifest.Source}' is not configured here.");
        var engine = source.Engine;
        var login = sources.RestoreLogin(engine)
            ?? throw new RestoreRefusedException($"No restore login is configured (ConnectionStrings:restore-{(engine == SourceEngine.Postgres ? "postgres" : "mariadb")}).");
        // Erasures recorded since the last harvest must be in the ledger before older data comes back.
        await ledger.HarvestAsync(cancellationToken);
        var erasures = await ledger.ReadAsync(cancellationToken);
        var watch = Stopwatch.StartNew();
        var database = inPlace ? source.Database : ScratchName(source.Database, time.GetUtcNow());
        var counts = engine == SourceEngine.Postgres
            ? await RestorePostgresAsync(manifest, login, database, inPlace, erasures, cancellationToken)
            : await RestoreMariaDbAsync(manifest, login, database, inPlace, erasures, cancellationToken);
        var match = counts.All(c => c.Value.Expected == c.Value.Restored);
        return new RestoreResult(manifest.Id, manifest.Source, inPlace ? "in-place" : "scratch", database, match, counts, erasures.Count, watch.Elapsed.TotalSeconds);
    }

    /// <summary>Drops a scratch database made by a restore (drills clean up after themselves).</summary>
    public async Task DropScratchAsync(string source, string database, CancellationToken cancellationToken)
    {
        if (!ScratchPattern().IsMatch(database)) throw new ArgumentException("Only scratch databases are dropped.", nameof(database));
        var engine = sources.Find(source)!.Engine;
        var login = sources.RestoreLogin(engine)!;
        if (engine == SourceEngine.Postgres)
        {
            await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(login) { Database = "postgres" }.ConnectionString);
            await admin.OpenAsync(cancellationToken);
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync(cancellationToken);
        }
        else
        {
            await using var admin = new MySqlConnection(login);
            await admin.OpenAsync(cancellationToken);
            await using var drop = new MySqlCommand($"DROP DATABASE IF EXISTS `{database}`", admin);
            await drop.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private async Task<SortedDictionary<string, TableCount>> RestorePostgresAsync(
        Manifest manifest, string login, string database, bool inPlace, IReadOnlyList<ErasureEntry> erasures, CancellationToken cancellationToken)
    {
        if (!inPlace)
        {
            await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(login) { Database = "postgres" }.ConnectionString);
            await admin.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database}\"", admin);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        try
        {
            using var pgRestore = tools.StartPgRestoreToSql(clean: inPlace, keepOwners: inPlace);
            using var psql = tools.StartPsql(login, database);
            var drainPsql = psql.StandardOutput.CopyToAsync(Stream.Null, cancellationToken);
            var toSql = pgRestore.StandardOutput.CopyToAsync(psql.StandardInput, cancellationToken);
            ReadBackResult read;
            try
            {
                read = await FeedAsync(manifest, pgRestore.StandardInput, cancellationToken);
                await toSql;
            }
            catch
            {
                psql.Kill();
                pgRestore.Kill();
                throw;
            }
            if (await pgRestore.WaitAsync(cancellationToken) is var restoreExit and not 0)
            {
                psql.Kill();
                throw new BackupFailedException($"pg_restore exited with code {restoreExit}");
            }
            if (Compare(manifest, read) is { } problem)
            {
                // psql has not seen the end of its input, so its transaction never commits.
                psql.Kill();
                throw new BackupFailedException(problem);
            }
            // Still inside psql's single transaction: counts checked against the manifest, then the ledger re-applied.
            var tail = new StringBuilder();
            foreach (var (table, expected) in manifest.RowCounts)
            {
                if (!QualifiedName().IsMatch(table)) throw new BackupFailedException("The manifest names a table that is not a plain identifier.");
                tail.Append(CultureInfo.InvariantCulture,
                    $"DO $count$ BEGIN IF (SELECT count(*) FROM {table}) <> {expected} THEN RAISE EXCEPTION 'row count differs from the manifest'; END IF; END $count$;\n");
            }
            tail.Append(ErasureLedger.PostgresSql(manifest.Source, erasures));
            await psql.StandardInput.WriteAsync(Encoding.UTF8.GetBytes(tail.ToString()), cancellationToken);
            psql.StandardInput.Close();
            await drainPsql;
            if (await psql.WaitAsync(cancellationToken) is var psqlExit and not 0)
            {
                throw new BackupFailedException($"psql exited with code {psqlExit}: the restore was rolled back (a failed statement or a row count that differs from the manifest)");
            }
            return new SortedDictionary<string, TableCount>(manifest.RowCounts.ToDictionary(c => c.Key, c => new TableCount(c.Value, c.Value)), StringComparer.Ordinal);
        }
        catch when (!inPlace)
        {
            await DropScratchAsync(manifest.Source, database, CancellationToken.None);
            throw;
        }
    }

    private async Task<SortedDictionary<string, TableCount>> RestoreMariaDbAsync(
        Manifest manifest, string login, string database, bool inPlace, IReadOnlyList<ErasureEntry> erasures, CancellationToken cancellationToken)
    {
        if (!inPlace)
        {
            await using var admin = new MySqlConnection(login);
            await admin.OpenAsync(cancellationToken);
            await using var create = new MySqlCommand($"CREATE DATABASE `{database}`", admin);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        try
        {
            using var client = tools.StartMariaDb(login, database);
            var drain = client.StandardOutput.CopyToAsync(Stream.Null, cancellationToken);
            ReadBackResult read;
            try
            {
                read = await FeedAsync(manifest, client.StandardInput, cancellationToken);
            }
            catch
            {
                client.Kill();
                throw;
            }
            await drain;
            if (await client.WaitAsync(cancellationToken) is var exit and not 0) throw new BackupFailedException($"mariadb exited with code {exit}");
            if (Compare(manifest, read) is { } problem) throw new BackupFailedException(problem);
            var restored = await MariaDbRowCounts.CountAsync(login, database, cancellationToken);
            var counts = new SortedDictionary<string, TableCount>(StringComparer.Ordinal);
            foreach (var (table, expected) in manifest.RowCounts) counts[table] = new TableCount(expected, restored.GetValueOrDefault(table, -1));
            // The mariadb dump commits table by table, so the ledger follows the load (DocumentService-style atomicity is PostgreSQL's).
            await ErasureLedger.ApplyMariaDbAsync(login, database, erasures, cancellationToken);
            return counts;
        }
        catch when (!inPlace)
        {
            await DropScratchAsync(manifest.Source, database, CancellationToken.None);
            throw;
        }
    }

    /// <summary>Streams the object through decryption and decompression into a restore tool's stdin, then closes it.</summary>
    private async Task<ReadBackResult> FeedAsync(Manifest manifest, Stream input, CancellationToken cancellationToken)
    {
        using var response = await repository.S3.GetObjectAsync(new GetObjectRequest { BucketName = repository.Bucket, Key = manifest.ObjectKey }, cancellationToken);
        using var hash = keys.CreatePlaintextHash(manifest.Id);
        try
        {
            var result = await ReadBackPipeline.RunAsync(response.ResponseStream, input, keyrings.Transit, hash, null, cancellationToken);
            input.Close();
            return result;
        }
        catch (Exception e) when (e is CryptoException or ZstdSharp.ZstdException)
        {
            throw new BackupFailedException($"the object failed its integrity check ({e.GetType().Name}); nothing was committed");
        }
    }

    /// <summary>What differs between a read-back and the manifest, or null when everything matches.</summary>
    private static string? Compare(Manifest manifest, ReadBackResult read)
    {
        if (!read.Context.TryGetValue("backup-id", out var id) || id != manifest.Id.ToString()
            || !read.Context.TryGetValue("source", out var source) || source != manifest.Source)
        {
            return "the object's authenticated context names another backup";
        }
        if (read.PlaintextBytes != manifest.PlaintextBytes || Convert.ToHexStringLower(read.PlaintextHash) != manifest.PlaintextHmacSha256)
        {
            return "the dump's keyed hash or size differs from the manifest";
        }
        if (read.ObjectBytes != manifest.ObjectBytes || Convert.ToHexStringLower(read.ObjectSha256) != manifest.ObjectSha256)
        {
            return "the stored object differs from the one the manifest describes";
        }
        return null;
    }

    private static string ScratchName(string database, DateTimeOffset at) => $"{database}_restore_{at:yyyyMMddHHmmssfff}";

    [GeneratedRegex("^[a-z0-9_]+_restore_[0-9]{17}$")]
    private static partial Regex ScratchPattern();

    /// <summary>schema.table as quote_ident writes them: plain lower-case identifiers or double-quoted ones.</summary>
    [GeneratedRegex("""^(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")\.(?:[a-z_][a-z0-9_$]*|"(?:[^"]|"")+")$""")]
    private static partial Regex QualifiedName();
}
