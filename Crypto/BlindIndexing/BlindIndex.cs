using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Pii.Crypto.BlindIndexing;

/// <summary>
/// Blind index for one column: HMAC-SHA256 over the normalized value, under a per-column key, truncated.
/// Column key = HKDF-SHA256(IKM = index key, salt = empty, info = "PiiAspire/blind-index/v1/" ‖ table ‖ "." ‖ column),
/// 32 bytes; the same value in two columns gives unrelated indexes.
/// </summary>
/// <remarks>
/// What it leaks, by design, to anyone who can read the index column: equality (two rows with the same normalized
/// value have the same index, which is what makes lookup possible) and therefore frequency (how many rows share a
/// value, so common values such as a family name or a shared office phone stand out). Truncation adds deliberate
/// collisions but does not hide frequency. Without the index key nothing else is learned; with it, low-entropy
/// values (SSNs, phone numbers) can be confirmed by guessing, so the index key is as sensitive as a DEK.
/// </remarks>
public sealed class BlindIndex : IDisposable
{
    public const int DefaultLength = 16;
    public const int MinLength = 8;
    public const int MaxLength = 32;

    private const string InfoPrefix = "PiiAspire/blind-index/v1/";
    private readonly byte[] _columnKey = GC.AllocateArray<byte>(32, pinned: true);
    private bool _disposed;

    /// <param name="indexKey">The index root key (at least 32 bytes).</param>
    /// <param name="table">Table name; must not contain '.'.</param>
    /// <param name="column">Column name.</param>
    /// <param name="kind">The normalization to apply.</param>
    /// <param name="length">Index length in bytes, 8..32 (default 16).</param>
    public BlindIndex(ReadOnlySpan<byte> indexKey, string table, string column, BlindIndexKind kind, int length = DefaultLength)
    {
        ArgumentException.ThrowIfNullOrEmpty(table);
        ArgumentException.ThrowIfNullOrEmpty(column);
        if (table.Contains('.', StringComparison.Ordinal))
        {
            throw new ArgumentException("A table name must not contain '.'.", nameof(table));
        }
        if (indexKey.Length < 32)
        {
            throw new ArgumentException("A blind-index key is at least 32 bytes.", nameof(indexKey));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(length, MinLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, MaxLength);
        Kind = kind;
        Length = length;
        byte[] info = Encoding.UTF8.GetBytes(InfoPrefix + table + "." + column);
        HKDF.DeriveKey(HashAlgorithmName.SHA256, indexKey, _columnKey, salt: default, info);
    }

    public BlindIndexKind Kind { get; }

    public int Length { get; }

    /// <summary>Normalizes and indexes <paramref name="value"/>; throws <see cref="MalformedInputException"/> if it cannot be normalized.</summary>
    public byte[] Compute(string value)
    {
        var output = new byte[Length];
        Compute(value, output);
        return output;
    }

    /// <summary>Writes the <see cref="Length"/>-byte index into <paramref name="destination"/>.</summary>
    public void Compute(string value, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        string normalized = Normalizer.Normalize(Kind, value);
        int byteCount = Encoding.UTF8.GetByteCount(normalized);
        byte[]? rented = null;
        Span<byte> utf8 = byteCount <= 256 ? stackalloc byte[256] : (rented = ArrayPool<byte>.Shared.Rent(byteCount));
        utf8 = utf8[..Encoding.UTF8.GetBytes(normalized, utf8)];
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        try
        {
            HMACSHA256.HashData(_columnKey, utf8, mac);
            mac[..Length].CopyTo(destination);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(utf8);
            CryptographicOperations.ZeroMemory(mac);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        CryptographicOperations.ZeroMemory(_columnKey);
    }
}
