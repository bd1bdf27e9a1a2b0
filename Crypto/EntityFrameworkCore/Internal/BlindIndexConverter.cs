using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Pii.Crypto.BlindIndexing;

namespace Pii.EntityFrameworkCore.Internal;

/// <summary>
/// The blind-index shadow property's converter: in memory the property holds the plaintext (set from the encrypted
/// property on save), in the database HMAC(normalized value). Because EF Core runs a query parameter compared with this
/// property through the same converter, <c>p.Email == email</c> rewritten to this property compares index with index.
/// The HMAC does not invert, so a value read back becomes <see cref="ReadBackPrefix"/> + base64 of the stored index,
/// which converts back to the same bytes: EF Core compares original values of unique indexes when it orders commands.
/// The save interceptor writes the plaintext whenever the value changes, so a new index is always computed from it.
/// </summary>
internal sealed class BlindIndexConverter : ValueConverter<string, byte[]>
{
    /// <summary>Starts with NUL, which no normalized email, phone, SSN or name contains.</summary>
    public const string ReadBackPrefix = "\0pii-blind-index:";

    public BlindIndexConverter(PiiEncryption encryption, string table, string column, BlindIndexKind kind)
        : this(new BlindIndexColumn(encryption, table, column, kind))
    {
    }

    private BlindIndexConverter(BlindIndexColumn column)
        : base(value => column.Compute(value), stored => ReadBackPrefix + Convert.ToBase64String(stored))
    {
    }
}

/// <summary>One column's blind index, resolved from the encryption's index root key on first use.</summary>
internal sealed class BlindIndexColumn(PiiEncryption encryption, string table, string column, BlindIndexKind kind)
{
    public byte[] Compute(string value) =>
        value.StartsWith(BlindIndexConverter.ReadBackPrefix, StringComparison.Ordinal)
            ? Convert.FromBase64String(value[BlindIndexConverter.ReadBackPrefix.Length..])
            : encryption.BlindIndexFor(table, column, kind).Compute(value);
}
