using System.Data.Common;
using System.Globalization;
using MySqlConnector;
using Pii.Crypto.Keys;

namespace Pii.EtlWorker.Etl;

/// <summary>
/// Reads the DNC source (MySQL, read-only user) in keyset order past a watermark:
/// <c>WHERE ts &gt; @at OR (ts = @at AND id &gt; @id) ORDER BY ts, id LIMIT n</c>, served by the (ts, id) indexes.
/// Only rows older than the settle window (against MySQL's own clock) are returned; see <see cref="EtlOptions.SettleWindow"/>.
/// MySQL DATETIME has no zone; the FormApi writes UTC, so values come back as UTC.
/// </summary>
public sealed class SourceReader(MySqlDataSource database)
{
    public async Task<IReadOnlyList<SourceRow>> ReadPreferencesAsync(Watermark after, int limit, TimeSpan settle, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText =
            "SELECT id, first_name, middle_name, last_name, phone, email, phone_dnc, email_dnc, dek_id, created_at, updated_at, row_version, phone_bidx, email_bidx " +
            "FROM dnc_preferences WHERE (updated_at > @at OR (updated_at = @at AND id > @id)) " +
            "AND updated_at <= UTC_TIMESTAMP(6) - INTERVAL @settle MICROSECOND ORDER BY updated_at, id LIMIT @limit";
        AddKeyset(command, after, settle, limit);
        var rows = new List<SourceRow>(limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new SourceRow(
                ReadId(reader, 0),
                (byte[])reader.GetValue(1),
                reader.IsDBNull(2) ? null : (byte[])reader.GetValue(2),
                (byte[])reader.GetValue(3),
                (byte[])reader.GetValue(4),
                (byte[])reader.GetValue(5),
                Convert.ToBoolean(reader.GetValue(6), CultureInfo.InvariantCulture),
                Convert.ToBoolean(reader.GetValue(7), CultureInfo.InvariantCulture),
                reader.GetInt32(8),
                Utc(reader.GetDateTime(9)),
                Utc(reader.GetDateTime(10)),
                reader.GetInt32(11),
                (byte[])reader.GetValue(12),
                (byte[])reader.GetValue(13)));
        }

        return rows;
    }

    public async Task<IReadOnlyList<ErasureRow>> ReadErasuresAsync(Watermark after, int limit, TimeSpan settle, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText =
            "SELECT id, erased_at FROM dnc_erasures WHERE (erased_at > @at OR (erased_at = @at AND id > @id)) " +
            "AND erased_at <= UTC_TIMESTAMP(6) - INTERVAL @settle MICROSECOND ORDER BY erased_at, id LIMIT @limit";
        AddKeyset(command, after, settle, limit);
        var rows = new List<ErasureRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new ErasureRow(ReadId(reader, 0), Utc(reader.GetDateTime(1))));
        }

        return rows;
    }

    /// <summary>The updated_at of the first row past the watermark, settled or not (for the lag metric); null when none.</summary>
    public async Task<DateTime?> OldestUnprocessedAsync(Watermark after, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        command.CommandText =
            "SELECT updated_at FROM dnc_preferences WHERE (updated_at > @at OR (updated_at = @at AND id > @id)) ORDER BY updated_at, id LIMIT 1";
        AddKeyset(command, after, TimeSpan.Zero, 1);
        var value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is DateTime at ? Utc(at) : null;
    }

    /// <summary>The stored (wrapped) DEKs with these ids; destroyed DEKs are left out, so their rows read as unknown-key.</summary>
    public async Task<IReadOnlyDictionary<int, DekRecord>> ReadDeksAsync(IReadOnlyCollection<int> ids, CancellationToken cancellationToken)
    {
        var records = new Dictionary<int, DekRecord>();
        if (ids.Count == 0)
        {
            return records;
        }

        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
        var names = new List<string>();
        foreach (var id in ids)
        {
            var name = "@k" + names.Count.ToString(CultureInfo.InvariantCulture);
            names.Add(name);
            command.Parameters.AddWithValue(name, id);
        }

        command.CommandText =
            "SELECT id, purpose, kek_name, kek_version, wrapped_dek, created_at, retired_at FROM encryption_keys " +
            $"WHERE destroyed_at IS NULL AND id IN ({string.Join(", ", names)})";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var id = reader.GetInt32(0);
            records[id] = new DekRecord(
                id,
                reader.GetString(1),
                new WrappedDek(reader.GetString(2), reader.GetInt32(3), reader.GetString(4)),
                new DateTimeOffset(Utc(reader.GetDateTime(5))),
                reader.IsDBNull(6) ? null : new DateTimeOffset(Utc(reader.GetDateTime(6))),
                UseCount: 0);
        }

        return records;
    }

    private static void AddKeyset(MySqlCommand command, Watermark after, TimeSpan settle, int limit)
    {
        command.Parameters.AddWithValue("@at", after.At);
        command.Parameters.AddWithValue("@id", after.IdBytes);
        command.Parameters.AddWithValue("@settle", (long)(settle.Ticks / 10));
        command.Parameters.AddWithValue("@limit", limit);
    }

    private static Guid ReadId(DbDataReader reader, int ordinal) => new((byte[])reader.GetValue(ordinal), bigEndian: true);

    private static DateTime Utc(DateTime value) => DateTime.SpecifyKind(value, DateTimeKind.Utc);

    private ValueTask<MySqlConnection> OpenAsync(CancellationToken cancellationToken) => database.OpenConnectionAsync(cancellationToken);
}
