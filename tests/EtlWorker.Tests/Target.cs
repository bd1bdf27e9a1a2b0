using Npgsql;

namespace Pii.EtlWorker.Tests;

/// <summary>One suppression.entries row as the test reads it back.</summary>
public sealed record StoredEntry(Guid SourceId, byte[] PhoneIndex, byte[] EmailIndex, bool PhoneDnc, bool EmailDnc, int RowVersion);

/// <summary>Reads the suppression schema as the database administrator (independent of the worker's code).</summary>
public static class Target
{
    public static async Task<List<StoredEntry>> EntriesAsync(EtlFixture fixture)
    {
        await using var connection = new NpgsqlConnection(fixture.TargetAdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT source_id, phone_index, email_index, phone_dnc, email_dnc, source_row_version FROM suppression.entries", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var entries = new List<StoredEntry>();
        while (await reader.ReadAsync())
        {
            entries.Add(new StoredEntry(reader.GetGuid(0), (byte[])reader[1], (byte[])reader[2], reader.GetBoolean(3), reader.GetBoolean(4), reader.GetInt32(5)));
        }

        return entries;
    }

    public static async Task<Dictionary<Guid, string>> QuarantineAsync(EtlFixture fixture)
    {
        await using var connection = new NpgsqlConnection(fixture.TargetAdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT source_id, reason FROM suppression.quarantine", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<Guid, string>();
        while (await reader.ReadAsync())
        {
            rows[reader.GetGuid(0)] = reader.GetString(1);
        }

        return rows;
    }

    public static async Task<(DateTime At, Guid Id)> WatermarkAsync(EtlFixture fixture, string stream)
    {
        await using var connection = new NpgsqlConnection(fixture.TargetAdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT position_at, position_id FROM suppression.watermarks WHERE stream = @s", connection);
        command.Parameters.AddWithValue("s", stream);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetFieldValue<DateTime>(0), reader.GetGuid(1));
    }
}
