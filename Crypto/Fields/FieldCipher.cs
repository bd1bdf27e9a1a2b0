using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Pii.Crypto.Siv;

namespace Pii.Crypto.Fields;

/// <summary>
/// Field-level encryption for BYTEA/VARBINARY columns: one versioned, compact binary format, two modes.
/// </summary>
/// <remarks>
/// Byte layout (format version 1):
/// <code>
/// offset 0        1 byte   version (high nibble, = 1) ‖ mode (low nibble: 1 = randomized, 2 = deterministic)
/// offset 1        1-5 B    DEK id, unsigned LEB128 varint, shortest form only (1 byte below 128, 2 below 16,384)
/// randomized:     12 B     nonce (random, from the CSPRNG)
///                 n  B     AES-256-GCM ciphertext
///                 16 B     GCM tag
/// deterministic:  16 B     synthetic IV (AES-SIV-512, RFC 5297)
///                 n  B     AES-CTR ciphertext
/// </code>
/// Overhead: randomized 1 + varint + 28 (30 bytes for DEK ids below 128, 31 below 16,384); deterministic
/// 1 + varint + 16 (18 and 19 bytes).
/// Associated data (not stored): the header bytes (version/mode byte ‖ varint) ‖ u16be length ‖ table ‖ u16be length ‖
/// column ‖ u16be length ‖ record id (UTF-8). Binding the header prevents mode/key-id substitution; the length
/// prefixes make the context encoding unambiguous, so a ciphertext moved to any other cell fails authentication.
/// For deterministic mode the associated data is the single S2V component before the plaintext; equal ciphertexts
/// therefore mean equal plaintext in the same cell under the same DEK, nothing more.
/// SQL NULL is not encrypted (null in, null out); the empty value is a real ciphertext of 30/18+ bytes.
/// </remarks>
public static class FieldCipher
{
    public const int FormatVersion = 1;
    public const int NonceSize = NonceSource.NonceSize;
    public const int TagSize = FieldKey.AesGcmTagSize;

    private const int MaxHeaderSize = 1 + 5;
    private const int MaxAssociatedDataSize = MaxHeaderSize + 6 + 3 * FieldContext.MaxPartBytes;
    private const int StackPlaintextLimit = 512;

    /// <summary>Length of the ciphertext of <paramref name="plaintextLength"/> bytes.</summary>
    public static int GetCiphertextLength(FieldMode mode, int dekId, int plaintextLength) =>
        HeaderLength(dekId) + Overhead(mode) + plaintextLength;

    /// <summary>Encrypts into <paramref name="destination"/>; returns the bytes written. Allocation-free.</summary>
    public static int Encrypt(FieldKey key, FieldMode mode, ReadOnlySpan<byte> plaintext, FieldContext context, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(key);
        int total = GetCiphertextLength(mode, key.DekId, plaintext.Length);
        if (destination.Length < total)
        {
            throw new ArgumentException("Destination is too small.", nameof(destination));
        }
        int headerLength = WriteHeader(mode, key.DekId, destination);
        Span<byte> aadBuffer = stackalloc byte[MaxAssociatedDataSize];
        ReadOnlySpan<byte> aad = BuildAssociatedData(destination[..headerLength], context, aadBuffer);
        Span<byte> body = destination[headerLength..total];

        key.Acquire();
        try
        {
            if (mode == FieldMode.Randomized)
            {
                Span<byte> nonce = body[..NonceSize];
                NonceSource.Next(nonce);
                key.Gcm.Encrypt(nonce, plaintext, body.Slice(NonceSize, plaintext.Length), body[(NonceSize + plaintext.Length)..], aad);
            }
            else
            {
                key.Siv.Encrypt(plaintext, aad, body);
            }
        }
        finally
        {
            key.Release();
        }
        return total;
    }

    /// <summary>Encrypts a nullable value: null stays null (SQL NULL), an empty array becomes a real ciphertext.</summary>
    public static byte[]? Encrypt(FieldKey key, FieldMode mode, byte[]? plaintext, FieldContext context)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (plaintext is null)
        {
            return null;
        }
        var output = new byte[GetCiphertextLength(mode, key.DekId, plaintext.Length)];
        Encrypt(key, mode, plaintext, context, output);
        return output;
    }

    /// <summary>Encrypts a nullable string as UTF-8: null stays null, "" becomes a real ciphertext.</summary>
    public static byte[]? EncryptString(FieldKey key, FieldMode mode, string? plaintext, FieldContext context)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (plaintext is null)
        {
            return null;
        }
        int length = Encoding.UTF8.GetByteCount(plaintext);
        byte[]? rented = null;
        Span<byte> utf8 = length <= StackPlaintextLimit
            ? stackalloc byte[StackPlaintextLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(length));
        utf8 = utf8[..Encoding.UTF8.GetBytes(plaintext, utf8)];
        try
        {
            var output = new byte[GetCiphertextLength(mode, key.DekId, length)];
            Encrypt(key, mode, utf8, context, output);
            return output;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(utf8);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Reads the header (version, mode, DEK id) so a caller can fetch the right key before decrypting.</summary>
    public static FieldHeader ReadHeader(ReadOnlySpan<byte> ciphertext)
    {
        if (ciphertext.IsEmpty)
        {
            throw new TruncatedException("Field ciphertext is empty.");
        }
        int version = ciphertext[0] >> 4;
        int modeValue = ciphertext[0] & 0x0F;
        if (version != FormatVersion || modeValue is not ((int)FieldMode.Randomized or (int)FieldMode.Deterministic))
        {
            throw new UnsupportedVersionException("Unknown field ciphertext version or mode.");
        }
        int dekId = DekIdVarint.Read(ciphertext[1..], out int varintLength);
        var mode = (FieldMode)modeValue;
        int headerLength = 1 + varintLength;
        if (ciphertext.Length < headerLength + Overhead(mode))
        {
            throw new TruncatedException("Field ciphertext is shorter than its mode's overhead.");
        }
        return new FieldHeader(mode, dekId, headerLength, ciphertext.Length - headerLength - Overhead(mode));
    }

    /// <summary>Decrypts into <paramref name="destination"/>; returns the plaintext length.</summary>
    /// <exception cref="UnknownKeyException">The ciphertext names a DEK other than <paramref name="key"/>.</exception>
    /// <exception cref="TamperedException">Ciphertext, tag or context do not authenticate.</exception>
    public static int Decrypt(FieldKey key, ReadOnlySpan<byte> ciphertext, FieldContext context, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(key);
        FieldHeader header = ReadHeader(ciphertext);
        if (header.DekId != key.DekId)
        {
            throw new UnknownKeyException("The field ciphertext was made under a different DEK.");
        }
        if (destination.Length < header.PlaintextLength)
        {
            throw new ArgumentException("Destination is too small.", nameof(destination));
        }
        Span<byte> aadBuffer = stackalloc byte[MaxAssociatedDataSize];
        ReadOnlySpan<byte> aad = BuildAssociatedData(ciphertext[..header.HeaderLength], context, aadBuffer);
        ReadOnlySpan<byte> body = ciphertext[header.HeaderLength..];
        Span<byte> plaintext = destination[..header.PlaintextLength];

        key.Acquire();
        try
        {
            if (header.Mode == FieldMode.Randomized)
            {
                try
                {
                    key.Gcm.Decrypt(body[..NonceSize], body.Slice(NonceSize, plaintext.Length), body[(NonceSize + plaintext.Length)..], plaintext, aad);
                }
                catch (AuthenticationTagMismatchException e)
                {
                    throw new TamperedException("Field ciphertext failed authentication.", e);
                }
            }
            else
            {
                key.Siv.Decrypt(body, aad, plaintext);
            }
        }
        finally
        {
            key.Release();
        }
        return plaintext.Length;
    }

    /// <summary>Decrypts a nullable value: null stays null.</summary>
    public static byte[]? Decrypt(FieldKey key, byte[]? ciphertext, FieldContext context)
    {
        if (ciphertext is null)
        {
            return null;
        }
        var output = new byte[ReadHeader(ciphertext).PlaintextLength];
        Decrypt(key, ciphertext, context, output);
        return output;
    }

    /// <summary>Decrypts a nullable UTF-8 string: null stays null.</summary>
    public static string? DecryptString(FieldKey key, byte[]? ciphertext, FieldContext context)
    {
        if (ciphertext is null)
        {
            return null;
        }
        int length = ReadHeader(ciphertext).PlaintextLength;
        byte[]? rented = null;
        Span<byte> utf8 = length <= StackPlaintextLimit
            ? stackalloc byte[StackPlaintextLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            int written = Decrypt(key, ciphertext, context, utf8);
            return Encoding.UTF8.GetString(utf8[..written]);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(utf8);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static int Overhead(FieldMode mode) => mode switch
    {
        FieldMode.Randomized => NonceSize + TagSize,
        FieldMode.Deterministic => AesSiv.SivSize,
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };

    private static int HeaderLength(int dekId) => 1 + DekIdVarint.Length(dekId);

    private static int WriteHeader(FieldMode mode, int dekId, Span<byte> destination)
    {
        destination[0] = (byte)((FormatVersion << 4) | (int)mode);
        return 1 + DekIdVarint.Write(dekId, destination[1..]);
    }

    private static ReadOnlySpan<byte> BuildAssociatedData(ReadOnlySpan<byte> header, FieldContext context, Span<byte> buffer)
    {
        if (context.Table is null)
        {
            throw new ArgumentException("The field context is empty.", nameof(context));
        }
        header.CopyTo(buffer);
        int length = header.Length + context.Write(buffer[header.Length..]);
        return buffer[..length];
    }
}

/// <summary>What a field ciphertext's header says, and the plaintext length it implies.</summary>
public readonly record struct FieldHeader(FieldMode Mode, int DekId, int HeaderLength, int PlaintextLength);
