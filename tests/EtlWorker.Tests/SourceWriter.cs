using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MySqlConnector;
using Pii.Crypto.Fields;
using Pii.Services.Shared;

namespace Pii.EtlWorker.Tests;

/// <summary>A DNC submission as the FormApi would store it (before encryption).</summary>
public sealed record TestContact(Guid Id, string FirstName, string? MiddleName, string LastName, string Phone, string Email, bool PhoneDnc, bool EmailDnc)
{
    private static int _sequence;

    /// <summary>A distinct contact (phone and email unique within a test run).</summary>
    public static TestContact Next(bool phoneDnc = true, bool emailDnc = false)
    {
        var n = (Interlocked.Increment(ref _sequence) % 10_000) + (RandomNumberGenerator.GetInt32(1_000) * 10_000);
        return new TestContact(Guid.CreateVersion7(), "Alice", n % 2 == 0 ? "M" : null, "Doe",
            "+1555" + (n % 10_000_000).ToString("D7", CultureInfo.InvariantCulture),
            $"alice.{n.ToString(CultureInfo.InvariantCulture)}@example.com", phoneDnc, emailDnc);
    }
}

/// <summary>
/// Writes dnc_preferences / dnc_erasures rows with the real field cipher, as the FormApi does (admin connection). The
/// FormApi's own blind-index columns are filled with random bytes: the ETL never reads them.
/// </summary>
/// <remarks>
/// The intake's blind-index columns hold random bytes unless <paramref name="intakeIndexes"/> is given; then they hold
/// the real indexes the intake would have stored (what the dialer check's quarantine look-up relies on).
/// </remarks>
internal sealed class SourceWriter(string adminConnectionString, DncBlindIndexes? intakeIndexes = null)
{
    /// <summary>Encrypts one field for (dnc_preferences, column, id) under <paramref name="key"/>.</summary>
    public static byte[] Encrypt(FieldKey key, string column, Guid id, string value) =>
        FieldCipher.EncryptString(key, FieldMode.Randomized, value, new FieldContext("dnc_preferences", column, id.ToString("D")))!;

    public async Task InsertAsync(FieldKey key, IReadOnlyList<TestContact> contacts, Func<TestContact, string, byte[]?>? overrideField = null)
    {
        await using var connection = new MySqlConnection(adminConnectionString);
        await connection.OpenAsync();
        foreach (var chunk in contacts.Chunk(500))
        {
            var sql = new StringBuilder("INSERT INTO dnc_preferences (id, first_name, middle_name, last_name, phone, email, phone_bidx, email_bidx, phone_dnc, email_dnc, dek_id, created_at, updated_at, row_version) VALUES ");
            await using var command = new MySqlCommand { Connection = connection };
            for (var i = 0; i < chunk.Length; i++)
            {
                var c = chunk[i];
                byte[]? Field(string column, string? value) => overrideField?.Invoke(c, column) ?? (value is null ? null : Encrypt(key, column, c.Id, value));
                var p = "@p" + i.ToString(CultureInfo.InvariantCulture) + "_";
                sql.Append(i == 0 ? "" : ", ").Append(CultureInfo.InvariantCulture,
                    $"({p}id, {p}f, {p}m, {p}l, {p}ph, {p}em, {p}pb, {p}eb, {p}pd, {p}ed, {p}dek, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), 1)");
                command.Parameters.AddWithValue(p + "id", c.Id.ToByteArray(bigEndian: true));
                command.Parameters.AddWithValue(p + "f", Field("first_name", c.FirstName));
                command.Parameters.AddWithValue(p + "m", Field("middle_name", c.MiddleName));
                command.Parameters.AddWithValue(p + "l", Field("last_name", c.LastName));
                command.Parameters.AddWithValue(p + "ph", Field("phone", c.Phone));
                command.Parameters.AddWithValue(p + "em", Field("email", c.Email));
                command.Parameters.AddWithValue(p + "pb", intakeIndexes?.Phone.Compute(c.Phone) ?? RandomNumberGenerator.GetBytes(16));
                command.Parameters.AddWithValue(p + "eb", intakeIndexes?.Email.Compute(c.Email) ?? RandomNumberGenerator.GetBytes(16));
                command.Parameters.AddWithValue(p + "pd", c.PhoneDnc);
                command.Parameters.AddWithValue(p + "ed", c.EmailDnc);
                command.Parameters.AddWithValue(p + "dek", key.DekId);
            }

            command.CommandText = sql.ToString();
            await command.ExecuteNonQueryAsync();
        }
    }

    /// <summary>Toggles preferences the way PATCH does: new flags, updated_at now, row_version + 1.</summary>
    public async Task UpdateFlagsAsync(Guid id, bool phoneDnc, bool emailDnc)
    {
        await using var connection = new MySqlConnection(adminConnectionString);
        await connection.OpenAsync();
        var command = new MySqlCommand("UPDATE dnc_preferences SET phone_dnc = @p, email_dnc = @e, updated_at = UTC_TIMESTAMP(6), row_version = row_version + 1 WHERE id = @id", connection);
        command.Parameters.AddWithValue("@p", phoneDnc);
        command.Parameters.AddWithValue("@e", emailDnc);
        command.Parameters.AddWithValue("@id", id.ToByteArray(bigEndian: true));
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    /// <summary>Erasure as DELETE /api/dnc/{id} does it: the row goes and an erasure is recorded, in one transaction.</summary>
    public async Task EraseAsync(Guid id)
    {
        await using var connection = new MySqlConnection(adminConnectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var delete = new MySqlCommand("DELETE FROM dnc_preferences WHERE id = @id", connection, transaction);
        delete.Parameters.AddWithValue("@id", id.ToByteArray(bigEndian: true));
        Assert.Equal(1, await delete.ExecuteNonQueryAsync());
        var erasure = new MySqlCommand("INSERT INTO dnc_erasures (id, erased_at) VALUES (@id, UTC_TIMESTAMP(6))", connection, transaction);
        erasure.Parameters.AddWithValue("@id", id.ToByteArray(bigEndian: true));
        await erasure.ExecuteNonQueryAsync();
        await transaction.CommitAsync();
    }

    public async Task ExecuteAsync(string sql)
    {
        await using var connection = new MySqlConnection(adminConnectionString);
        await connection.OpenAsync();
        await new MySqlCommand(sql, connection).ExecuteNonQueryAsync();
    }
}
