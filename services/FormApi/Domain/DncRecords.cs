using System.Data.Common;
using Dapper;
using Pii.Crypto;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;
using Pii.FormApi.Data;
using Pii.FormApi.Keys;
using Pii.Services.Shared;

namespace Pii.FormApi.Domain;

/// <summary>A decrypted DNC record (only ever built in the back office).</summary>
internal sealed record DncRecord(
    Guid Id,
    string FirstName,
    string? MiddleName,
    string LastName,
    string Phone,
    string Email,
    bool PhoneDnc,
    bool EmailDnc,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    int RowVersion)
{
    public DncRecord Masked() => this with
    {
        FirstName = Masking.Name(FirstName)!,
        MiddleName = Masking.Name(MiddleName),
        LastName = Masking.Name(LastName)!,
        Phone = Masking.Phone(Phone),
        Email = Masking.Email(Email),
    };
}

internal enum PatchOutcome
{
    Updated,
    NotFound,
    Conflict,
}

/// <summary>
/// Back-office reads and writes of <c>dnc_preferences</c>: decrypts with DEKs unwrapped through the key service into
/// the <see cref="DekManager"/>'s bounded cache; lookups go through the blind-index keys (an index seek, no scan).
/// </summary>
internal sealed class DncRecords(DncDatabase database, DekManager deks, DncBlindIndexProvider indexes, TimeProvider time)
{
    private const string Columns = "id, first_name, middle_name, last_name, phone, email, phone_dnc, email_dnc, dek_id, created_at, updated_at, row_version";

    public async Task<DncRecord?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        StoredRow? row;
        using (DncDatabase.StartSpan("SELECT", DncIntake.Table))
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            row = await connection.QueryFirstOrDefaultAsync<StoredRow>(new CommandDefinition(
                $"SELECT {Columns} FROM dnc_preferences WHERE id = @id", new { id = DncDatabase.ToBytes(id) }, cancellationToken: cancellationToken));
        }
        return row is null ? null : await DecryptAsync(row, cancellationToken);
    }

    /// <summary>
    /// Records whose phone (or email) normalises to the same value; the blind index narrows, decryption confirms. A hit
    /// that does not decrypt (tampered, or naming a DEK that is gone) is left out and its id returned in
    /// <c>Tampered</c>, so one bad row does not fail the lookup and is never mistaken for the answer.
    /// </summary>
    public async Task<(IReadOnlyList<DncRecord> Records, IReadOnlyList<Guid> Tampered)> LookupAsync(string? phone, string? email, CancellationToken cancellationToken)
    {
        var blind = await indexes.GetAsync(cancellationToken);
        var (column, index, normalized) = phone is not null
            ? ("phone_bidx", blind.Phone.Compute(phone), Normalizer.Phone(phone))
            : ("email_bidx", blind.Email.Compute(email!), Normalizer.Email(email!));
        List<StoredRow> rows;
        using (DncDatabase.StartSpan("SELECT", DncIntake.Table))
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            rows = [.. await connection.QueryAsync<StoredRow>(new CommandDefinition(
                $"SELECT {Columns} FROM dnc_preferences WHERE {column} = @index ORDER BY id LIMIT 100", new { index }, cancellationToken: cancellationToken))];
        }
        var records = new List<DncRecord>(rows.Count);
        var tampered = new List<Guid>();
        foreach (var row in rows)
        {
            DncRecord record;
            try
            {
                record = await DecryptAsync(row, cancellationToken);
            }
            catch (CryptoException)
            {
                tampered.Add(DncDatabase.FromBytes(row.id));
                continue;
            }
            var value = phone is not null ? record.Phone : Normalizer.Email(record.Email);
            if (string.Equals(value, normalized, StringComparison.Ordinal))
            {
                records.Add(record);
            }
        }
        return (records, tampered);
    }

    public async Task<(PatchOutcome Outcome, int RowVersion)> PatchAsync(Guid id, int expectedVersion, DncPreferencePatch patch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(patch);
        using var span = DncDatabase.StartSpan("UPDATE", DncIntake.Table);
        await using var connection = await database.OpenAsync(cancellationToken);
        int changed = await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE dnc_preferences SET phone_dnc = COALESCE(@phone, phone_dnc), email_dnc = COALESCE(@email, email_dnc),
              updated_at = @now, row_version = row_version + 1
            WHERE id = @id AND row_version = @expected
            """,
            new { id = DncDatabase.ToBytes(id), phone = patch.PhoneDnc, email = patch.EmailDnc, now = time.GetUtcNow().UtcDateTime, expected = expectedVersion },
            cancellationToken: cancellationToken));
        if (changed == 1)
        {
            return (PatchOutcome.Updated, expectedVersion + 1);
        }
        var current = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            "SELECT row_version FROM dnc_preferences WHERE id = @id", new { id = DncDatabase.ToBytes(id) }, cancellationToken: cancellationToken));
        return current is null ? (PatchOutcome.NotFound, 0) : (PatchOutcome.Conflict, current.Value);
    }

    /// <summary>Erasure: the row (with its ciphertexts and blind indexes) goes and dnc_erasures records the id, in one transaction.</summary>
    public async Task<bool> EraseAsync(Guid id, Func<DbConnection, DbTransaction, Task> recordInSameTransaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(recordInSameTransaction);
        using var span = DncDatabase.StartSpan("DELETE", DncIntake.Table);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var key = DncDatabase.ToBytes(id);
        int deleted = await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM dnc_preferences WHERE id = @key", new { key }, transaction, cancellationToken: cancellationToken));
        if (deleted == 0)
        {
            return false;
        }
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO dnc_erasures (id, erased_at) VALUES (@key, @at) ON DUPLICATE KEY UPDATE erased_at = VALUES(erased_at)",
            new { key, at = time.GetUtcNow().UtcDateTime }, transaction, cancellationToken: cancellationToken));
        await recordInSameTransaction(connection, transaction);
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private async Task<DncRecord> DecryptAsync(StoredRow row, CancellationToken cancellationToken)
    {
        var id = DncDatabase.FromBytes(row.id);
        var idText = id.ToString("D");
        using var lease = await deks.LeaseKeyAsync(row.dek_id, cancellationToken);
        string Field(string column, byte[] value) => FieldCipher.DecryptString(lease.Key, value, new FieldContext(DncIntake.Table, column, idText))!;
        return new DncRecord(
            id,
            Field("first_name", row.first_name),
            row.middle_name is null ? null : Field("middle_name", row.middle_name),
            Field("last_name", row.last_name),
            Field("phone", row.phone),
            Field("email", row.email),
            row.phone_dnc,
            row.email_dnc,
            DateTime.SpecifyKind(row.created_at, DateTimeKind.Utc),
            DateTime.SpecifyKind(row.updated_at, DateTimeKind.Utc),
            row.row_version);
    }

    /// <summary>What the re-encryption job reads: ciphertexts, DEK id and version, no flags.</summary>
    internal sealed record StoredRowForKeys(byte[] id, byte[] first_name, byte[]? middle_name, byte[] last_name, byte[] phone, byte[] email, int dek_id, int row_version);

    internal sealed record StoredRow(
        byte[] id, byte[] first_name, byte[]? middle_name, byte[] last_name, byte[] phone, byte[] email,
        bool phone_dnc, bool email_dnc, int dek_id, DateTime created_at, DateTime updated_at, int row_version);
}
