namespace Pii.EtlWorker.Etl;

/// <summary>
/// A position in a source table's keyset order (timestamp, then id bytes). Ids are UUIDs whose 16 bytes are in RFC 9562
/// order; MySQL compares BINARY(16) and PostgreSQL compares uuid bytewise, so both sides agree on the order.
/// </summary>
public readonly record struct Watermark(DateTime At, Guid Id)
{
    /// <summary>Before every row: MySQL's smallest DATETIME, the nil UUID.</summary>
    public static readonly Watermark Start = new(new DateTime(1000, 1, 1, 0, 0, 0, DateTimeKind.Utc), Guid.Empty);

    public byte[] IdBytes => Id.ToByteArray(bigEndian: true);
}

/// <summary>One dnc_preferences row as stored: PII columns are FieldCipher ciphertexts.</summary>
public sealed record SourceRow(
    Guid Id,
    byte[] FirstName,
    byte[]? MiddleName,
    byte[] LastName,
    byte[] Phone,
    byte[] Email,
    bool PhoneDnc,
    bool EmailDnc,
    int DekId,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    int RowVersion,
    byte[] PhoneBlindIndex,
    byte[] EmailBlindIndex)
{
    public const string Table = "dnc_preferences";

    /// <summary>The record id of the field AAD: the canonical lower-case UUID string.</summary>
    public string RecordId => Id.ToString("D");

    public Watermark Position => new(UpdatedAt, Id);
}

/// <summary>One dnc_erasures row: the preference row with this id was deleted.</summary>
public sealed record ErasureRow(Guid Id, DateTime ErasedAt)
{
    public Watermark Position => new(ErasedAt, Id);
}
