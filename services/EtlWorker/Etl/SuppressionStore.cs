using Npgsql;
using NpgsqlTypes;

namespace Pii.EtlWorker.Etl;

/// <summary>A suppression-list entry: blind indexes only, never a phone number or address.</summary>
public sealed record SuppressionEntry(Guid SourceId, byte[] PhoneIndex, byte[] EmailIndex, bool PhoneDnc, bool EmailDnc, DateTime SourceCreatedAt, DateTime SourceUpdatedAt, int SourceRowVersion);

/// <summary>
/// A row the ETL could not load, and why (a reason code, never row content), with the row's own phone and email blind
/// indexes as the intake stored them: the dialer check finds a quarantined row by them and refuses contact.
/// </summary>
public sealed record QuarantineEntry(Guid SourceId, DateTime SourceUpdatedAt, int SourceRowVersion, string Reason, byte[] PhoneBlindIndex, byte[] EmailBlindIndex);

/// <summary>The two source feeds the ETL follows, each with its own watermark.</summary>
public enum SourceFeed
{
    Preferences,
    Erasures,
}

/// <summary>What the dialer is told for one index.</summary>
public readonly record struct SuppressionVerdict(bool Listed, bool DoNotContact);

/// <summary>The intake's blind index of the contact asked about (see <see cref="QuarantineEntry"/>).</summary>
public readonly record struct IntakeIndex(ContactKind Kind, byte[] Value);

/// <summary>
/// The suppression list in PostgreSQL (database <c>analytics</c>, schema <c>suppression</c>, owned by the worker's
/// login). Schema changes are numbered migrations applied at start-up under an advisory lock (two instances starting
/// together apply each once). Every batch commits its upserts or deletions, its quarantine changes and its watermark
/// in one transaction, so after a crash the list and the watermark always agree and a replay is idempotent.
/// </summary>
public sealed class SuppressionStore(NpgsqlDataSource database)
{
    private const long MigrationLockKey = 0x5550_5052_4553_5331; // "SUPPRESS1"

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE suppression.entries (
            source_id uuid PRIMARY KEY,
            phone_index bytea NOT NULL CHECK (length(phone_index) = 32),
            email_index bytea NOT NULL CHECK (length(email_index) = 32),
            phone_dnc boolean NOT NULL,
            email_dnc boolean NOT NULL,
            source_created_at timestamptz NOT NULL,
            source_updated_at timestamptz NOT NULL,
            source_row_version integer NOT NULL,
            loaded_at timestamptz NOT NULL);
        CREATE INDEX entries_phone_index ON suppression.entries (phone_index);
        CREATE INDEX entries_email_index ON suppression.entries (email_index);
        CREATE TABLE suppression.quarantine (
            source_id uuid PRIMARY KEY,
            source_updated_at timestamptz NOT NULL,
            source_row_version integer NOT NULL,
            reason text NOT NULL,
            quarantined_at timestamptz NOT NULL);
        CREATE TABLE suppression.watermarks (
            stream text PRIMARY KEY,
            position_at timestamptz NOT NULL,
            position_id uuid NOT NULL,
            advanced_at timestamptz NOT NULL);
        INSERT INTO suppression.watermarks VALUES
            ('preferences', '1000-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', now()),
            ('erasures', '1000-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', now());
        CREATE TABLE suppression.index_key (
            singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
            key_name text NOT NULL,
            key_version integer NOT NULL,
            pinned_at timestamptz NOT NULL);
        """,
        // Quarantined rows keep the intake's blind indexes (16-byte HMACs, no plaintext) so the check can fail closed.
        """
        ALTER TABLE suppression.quarantine ADD COLUMN phone_bidx bytea, ADD COLUMN email_bidx bytea;
        CREATE INDEX quarantine_phone_bidx ON suppression.quarantine (phone_bidx);
        CREATE INDEX quarantine_email_bidx ON suppression.quarantine (email_bidx);
        """,
    ];

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLockKey})", cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS suppression.schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)", cancellationToken).ConfigureAwait(false);
        await using (var read = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM suppression.schema_migrations", connection))
        {
            var applied = (int)(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            for (var version = applied + 1; version <= Migrations.Length; version++)
            {
                await ExecuteAsync(connection, Migrations[version - 1], cancellationToken).ConfigureAwait(false);
                await ExecuteAsync(connection, $"INSERT INTO suppression.schema_migrations VALUES ({version}, now())", cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The pinned index-key version; pins <paramref name="latest"/>() on first use.</summary>
    public async Task<int> EnsureIndexKeyVersionAsync(string keyName, Func<CancellationToken, Task<int>> latest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(latest);
        if (await IndexKeyVersionAsync(cancellationToken).ConfigureAwait(false) is { } pinned)
        {
            return pinned;
        }

        var version = await latest(cancellationToken).ConfigureAwait(false);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("INSERT INTO suppression.index_key VALUES (true, @name, @version, now()) ON CONFLICT DO NOTHING", connection);
        command.Parameters.AddWithValue("name", keyName);
        command.Parameters.AddWithValue("version", version);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return (await IndexKeyVersionAsync(cancellationToken).ConfigureAwait(false))!.Value;
    }

    public async Task<int?> IndexKeyVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT key_version FROM suppression.index_key", connection);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as int?;
    }

    public async Task<Watermark> ReadWatermarkAsync(SourceFeed stream, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand("SELECT position_at, position_id FROM suppression.watermarks WHERE stream = @stream", connection);
        command.Parameters.AddWithValue("stream", StreamName(stream));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new InvalidOperationException("The suppression schema has no watermark row; run the migrations first.");
        }

        return new Watermark(reader.GetFieldValue<DateTime>(0), reader.GetGuid(1));
    }

    /// <summary>Upserts loaded rows, records quarantined ones and advances the preferences watermark, atomically.</summary>
    public async Task CommitPreferencesAsync(IReadOnlyList<SuppressionEntry> entries, IReadOnlyList<QuarantineEntry> quarantined, Watermark advanceTo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(quarantined);
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection, transaction);

        // An older version never overwrites a newer one (a replay after a crash, or an operator resetting the watermark).
        var upsert = new NpgsqlBatchCommand("""
            INSERT INTO suppression.entries AS e
            SELECT u.*, now() FROM unnest(@id, @phone, @email, @phone_dnc, @email_dnc, @created, @updated, @version)
                AS u(source_id, phone_index, email_index, phone_dnc, email_dnc, source_created_at, source_updated_at, source_row_version)
            ON CONFLICT (source_id) DO UPDATE SET phone_index = excluded.phone_index, email_index = excluded.email_index,
                phone_dnc = excluded.phone_dnc, email_dnc = excluded.email_dnc, source_created_at = excluded.source_created_at,
                source_updated_at = excluded.source_updated_at, source_row_version = excluded.source_row_version, loaded_at = excluded.loaded_at
            WHERE (e.source_updated_at, e.source_row_version) <= (excluded.source_updated_at, excluded.source_row_version)
            """);
        upsert.Parameters.Add(Array("id", NpgsqlDbType.Uuid, entries.Select(e => e.SourceId)));
        upsert.Parameters.Add(Array("phone", NpgsqlDbType.Bytea, entries.Select(e => e.PhoneIndex)));
        upsert.Parameters.Add(Array("email", NpgsqlDbType.Bytea, entries.Select(e => e.EmailIndex)));
        upsert.Parameters.Add(Array("phone_dnc", NpgsqlDbType.Boolean, entries.Select(e => e.PhoneDnc)));
        upsert.Parameters.Add(Array("email_dnc", NpgsqlDbType.Boolean, entries.Select(e => e.EmailDnc)));
        upsert.Parameters.Add(Array("created", NpgsqlDbType.TimestampTz, entries.Select(e => e.SourceCreatedAt)));
        upsert.Parameters.Add(Array("updated", NpgsqlDbType.TimestampTz, entries.Select(e => e.SourceUpdatedAt)));
        upsert.Parameters.Add(Array("version", NpgsqlDbType.Integer, entries.Select(e => e.SourceRowVersion)));
        batch.BatchCommands.Add(upsert);

        var released = new NpgsqlBatchCommand("DELETE FROM suppression.quarantine WHERE source_id = ANY(@id)");
        released.Parameters.Add(Array("id", NpgsqlDbType.Uuid, entries.Select(e => e.SourceId)));
        batch.BatchCommands.Add(released);

        var quarantine = new NpgsqlBatchCommand("""
            INSERT INTO suppression.quarantine (source_id, source_updated_at, source_row_version, reason, phone_bidx, email_bidx, quarantined_at)
            SELECT q.*, now() FROM unnest(@id, @updated, @version, @reason, @phone_bidx, @email_bidx)
                AS q(source_id, source_updated_at, source_row_version, reason, phone_bidx, email_bidx)
            ON CONFLICT (source_id) DO UPDATE SET source_updated_at = excluded.source_updated_at,
                source_row_version = excluded.source_row_version, reason = excluded.reason, phone_bidx = excluded.phone_bidx,
                email_bidx = excluded.email_bidx, quarantined_at = excluded.quarantined_at
            """);
        quarantine.Parameters.Add(Array("id", NpgsqlDbType.Uuid, quarantined.Select(q => q.SourceId)));
        quarantine.Parameters.Add(Array("updated", NpgsqlDbType.TimestampTz, quarantined.Select(q => q.SourceUpdatedAt)));
        quarantine.Parameters.Add(Array("version", NpgsqlDbType.Integer, quarantined.Select(q => q.SourceRowVersion)));
        quarantine.Parameters.Add(Array("reason", NpgsqlDbType.Text, quarantined.Select(q => q.Reason)));
        quarantine.Parameters.Add(Array("phone_bidx", NpgsqlDbType.Bytea, quarantined.Select(q => q.PhoneBlindIndex)));
        quarantine.Parameters.Add(Array("email_bidx", NpgsqlDbType.Bytea, quarantined.Select(q => q.EmailBlindIndex)));
        batch.BatchCommands.Add(quarantine);

        batch.BatchCommands.Add(AdvanceCommand(SourceFeed.Preferences, advanceTo));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes erased rows from the list and from quarantine and advances the erasures watermark, atomically.</summary>
    public async Task CommitErasuresAsync(IReadOnlyList<Guid> erasedIds, Watermark advanceTo, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var table in (string[])["entries", "quarantine"])
        {
            var delete = new NpgsqlBatchCommand($"DELETE FROM suppression.{table} WHERE source_id = ANY(@id)");
            delete.Parameters.Add(Array("id", NpgsqlDbType.Uuid, erasedIds));
            batch.BatchCommands.Add(delete);
        }

        batch.BatchCommands.Add(AdvanceCommand(SourceFeed.Erasures, advanceTo));
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether any entry has this phone (or email) index, and whether any of them asked not to be contacted.</summary>
    public async Task<SuppressionVerdict> CheckAsync(ContactKind kind, byte[] index, CancellationToken cancellationToken)
    {
        var (column, flag) = kind == ContactKind.Phone ? ("phone_index", "phone_dnc") : ("email_index", "email_dnc");
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"SELECT count(*) > 0, coalesce(bool_or({flag}), false) FROM suppression.entries WHERE {column} = @index", connection);
        command.Parameters.AddWithValue("index", index);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        return new SuppressionVerdict(reader.GetBoolean(0), reader.GetBoolean(1));
    }

    /// <summary>Whether a row the ETL could not load was stored with this phone (or email): nobody can tell its preference.</summary>
    public async Task<bool> IsQuarantinedAsync(IntakeIndex index, CancellationToken cancellationToken)
    {
        var column = index.Kind == ContactKind.Phone ? "phone_bidx" : "email_bidx";
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"SELECT EXISTS (SELECT 1 FROM suppression.quarantine WHERE {column} = @index)", connection);
        command.Parameters.AddWithValue("index", index.Value);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private static string StreamName(SourceFeed stream) => stream == SourceFeed.Preferences ? "preferences" : "erasures";

    private static NpgsqlBatchCommand AdvanceCommand(SourceFeed stream, Watermark to)
    {
        var command = new NpgsqlBatchCommand("UPDATE suppression.watermarks SET position_at = @at, position_id = @id, advanced_at = now() WHERE stream = @stream");
        command.Parameters.AddWithValue("at", to.At);
        command.Parameters.AddWithValue("id", to.Id);
        command.Parameters.AddWithValue("stream", StreamName(stream));
        return command;
    }

    private static NpgsqlParameter Array<T>(string name, NpgsqlDbType elementType, IEnumerable<T> values) =>
        new(name, NpgsqlDbType.Array | elementType) { Value = values.ToArray() };

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenConnectionAsync(cancellationToken);
}
