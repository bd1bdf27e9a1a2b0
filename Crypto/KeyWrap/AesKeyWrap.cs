using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Pii.Crypto.KeyWrap;

/// <summary>
/// AES key wrap: RFC 3394 (KW, default IV A6A6A6A6A6A6A6A6) and RFC 5649 (KWP, alternative IV A65959A6 ‖ 32-bit
/// big-endian message length, zero padding to a multiple of 8 bytes).
/// </summary>
/// <remarks>
/// Layouts: KW input is n ≥ 2 semiblocks (8 bytes each), output is 8·(n+1) bytes. KWP input is 1..2^32-1 bytes,
/// output is 8·⌈len/8⌉ + 8 bytes (16 bytes when the padded input is a single semiblock: one AES-ECB block of AIV ‖ P).
/// Unwrapping checks the integrity value in constant time and, for KWP, the length indicator and the zero padding;
/// any failure is a <see cref="TamperedException"/> and no unwrapped bytes are returned.
/// Each call runs its 6·n AES block operations through one ECB transform (the one-shot EncryptEcb would set up a
/// native cipher context per block).
/// </remarks>
public static class AesKeyWrap
{
    private const int Semiblock = 8;
    private const ulong DefaultIv = 0xA6A6A6A6A6A6A6A6UL;
    private const uint KwpIvPrefix = 0xA65959A6U;

    /// <summary>RFC 3394 wrap. <paramref name="plaintext"/> is a multiple of 8 bytes, at least 16.</summary>
    public static byte[] Wrap(ReadOnlySpan<byte> kek, ReadOnlySpan<byte> plaintext)
    {
        if (plaintext.Length < 2 * Semiblock || plaintext.Length % Semiblock != 0)
        {
            throw new MalformedInputException("AES-KW input must be a multiple of 8 bytes and at least 16 bytes.");
        }
        using Aes aes = CreateAes(kek);
        using ICryptoTransform encryptor = aes.CreateEncryptor();
        var output = new byte[plaintext.Length + Semiblock];
        WrapCore(encryptor, DefaultIv, plaintext, output);
        return output;
    }

    /// <summary>RFC 3394 unwrap; throws <see cref="TamperedException"/> when the integrity check fails.</summary>
    public static byte[] Unwrap(ReadOnlySpan<byte> kek, ReadOnlySpan<byte> wrapped)
    {
        if (wrapped.Length < 3 * Semiblock || wrapped.Length % Semiblock != 0)
        {
            throw new MalformedInputException("AES-KW wrapped input must be a multiple of 8 bytes and at least 24 bytes.");
        }
        using Aes aes = CreateAes(kek);
        using ICryptoTransform decryptor = aes.CreateDecryptor();
        var output = new byte[wrapped.Length - Semiblock];
        ulong a = UnwrapCore(decryptor, wrapped, output);
        Span<byte> actual = stackalloc byte[Semiblock];
        Span<byte> expected = stackalloc byte[Semiblock];
        BinaryPrimitives.WriteUInt64BigEndian(actual, a);
        BinaryPrimitives.WriteUInt64BigEndian(expected, DefaultIv);
        if (!CryptographicOperations.FixedTimeEquals(actual, expected))
        {
            CryptographicOperations.ZeroMemory(output);
            throw new TamperedException("AES-KW integrity check failed.");
        }
        return output;
    }

    /// <summary>RFC 5649 wrap with padding; any length from 1 byte.</summary>
    public static byte[] WrapPadded(ReadOnlySpan<byte> kek, ReadOnlySpan<byte> plaintext)
    {
        if (plaintext.IsEmpty)
        {
            throw new MalformedInputException("AES-KWP input must not be empty.");
        }
        using Aes aes = CreateAes(kek);
        ulong aiv = ((ulong)KwpIvPrefix << 32) | (uint)plaintext.Length;
        int paddedLength = (plaintext.Length + Semiblock - 1) / Semiblock * Semiblock;
        var padded = new byte[paddedLength];
        try
        {
            plaintext.CopyTo(padded);
            var output = new byte[paddedLength + Semiblock];
            if (paddedLength == Semiblock)
            {
                BinaryPrimitives.WriteUInt64BigEndian(output, aiv);
                padded.CopyTo(output.AsSpan(Semiblock));
                aes.EncryptEcb(output, output, PaddingMode.None);
            }
            else
            {
                using ICryptoTransform encryptor = aes.CreateEncryptor();
                WrapCore(encryptor, aiv, padded, output);
            }
            return output;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(padded);
        }
    }

    /// <summary>RFC 5649 unwrap; checks the IV prefix, the length indicator and the zero padding.</summary>
    public static byte[] UnwrapPadded(ReadOnlySpan<byte> kek, ReadOnlySpan<byte> wrapped)
    {
        if (wrapped.Length < 2 * Semiblock || wrapped.Length % Semiblock != 0)
        {
            throw new MalformedInputException("AES-KWP wrapped input must be a multiple of 8 bytes and at least 16 bytes.");
        }
        using Aes aes = CreateAes(kek);
        var padded = new byte[wrapped.Length - Semiblock];
        ulong a;
        if (wrapped.Length == 2 * Semiblock)
        {
            Span<byte> block = stackalloc byte[2 * Semiblock];
            aes.DecryptEcb(wrapped, block, PaddingMode.None);
            a = BinaryPrimitives.ReadUInt64BigEndian(block);
            block[Semiblock..].CopyTo(padded);
            CryptographicOperations.ZeroMemory(block);
        }
        else
        {
            using ICryptoTransform decryptor = aes.CreateDecryptor();
            a = UnwrapCore(decryptor, wrapped, padded);
        }

        // Every check runs regardless of earlier outcomes so timing does not reveal which one failed.
        uint prefix = (uint)(a >> 32);
        long length = (uint)a;
        int valid = prefix == KwpIvPrefix ? 1 : 0;
        valid &= length > padded.Length - Semiblock && length <= padded.Length ? 1 : 0;
        int paddingNonZero = 0;
        for (int i = 0; i < padded.Length; i++)
        {
            int beyondLength = i >= length ? 1 : 0;
            paddingNonZero |= padded[i] * beyondLength;
        }
        valid &= paddingNonZero == 0 ? 1 : 0;
        if (valid == 0)
        {
            CryptographicOperations.ZeroMemory(padded);
            throw new TamperedException("AES-KWP integrity check failed.");
        }
        byte[] output = padded.AsSpan(0, (int)length).ToArray();
        CryptographicOperations.ZeroMemory(padded);
        return output;
    }

    private static Aes CreateAes(ReadOnlySpan<byte> kek)
    {
        if (kek.Length is not (16 or 24 or 32))
        {
            throw new ArgumentException("An AES key-encryption key is 16, 24 or 32 bytes.", nameof(kek));
        }
        var aes = Aes.Create();
        aes.Mode = CipherMode.ECB;
        aes.Padding = PaddingMode.None;
        byte[] copy = kek.ToArray();
        aes.Key = copy;
        CryptographicOperations.ZeroMemory(copy);
        return aes;
    }

    // RFC 3394 §2.2.1, index-based form: for j = 0..5, i = 1..n: B = AES(K, A ‖ R[i]); A = MSB64(B) ^ t; R[i] = LSB64(B).
    private static void WrapCore(ICryptoTransform encryptor, ulong iv, ReadOnlySpan<byte> plaintext, Span<byte> output)
    {
        int n = plaintext.Length / Semiblock;
        Span<byte> r = output[Semiblock..];
        plaintext.CopyTo(r);
        byte[] block = new byte[2 * Semiblock];
        ulong a = iv;
        for (int j = 0; j < 6; j++)
        {
            for (int i = 0; i < n; i++)
            {
                BinaryPrimitives.WriteUInt64BigEndian(block, a);
                r.Slice(i * Semiblock, Semiblock).CopyTo(block.AsSpan(Semiblock));
                encryptor.TransformBlock(block, 0, block.Length, block, 0);
                a = BinaryPrimitives.ReadUInt64BigEndian(block) ^ (ulong)(n * j + i + 1);
                block.AsSpan(Semiblock).CopyTo(r.Slice(i * Semiblock, Semiblock));
            }
        }
        BinaryPrimitives.WriteUInt64BigEndian(output, a);
        CryptographicOperations.ZeroMemory(block);
    }

    // RFC 3394 §2.2.2: the inverse; returns the recovered integrity value A, writes R[1..n] to output.
    private static ulong UnwrapCore(ICryptoTransform decryptor, ReadOnlySpan<byte> wrapped, Span<byte> output)
    {
        int n = wrapped.Length / Semiblock - 1;
        ulong a = BinaryPrimitives.ReadUInt64BigEndian(wrapped);
        Span<byte> r = output[..(n * Semiblock)];
        wrapped[Semiblock..].CopyTo(r);
        byte[] block = new byte[2 * Semiblock];
        for (int j = 5; j >= 0; j--)
        {
            for (int i = n - 1; i >= 0; i--)
            {
                BinaryPrimitives.WriteUInt64BigEndian(block, a ^ (ulong)(n * j + i + 1));
                r.Slice(i * Semiblock, Semiblock).CopyTo(block.AsSpan(Semiblock));
                decryptor.TransformBlock(block, 0, block.Length, block, 0);
                a = BinaryPrimitives.ReadUInt64BigEndian(block);
                block.AsSpan(Semiblock).CopyTo(r.Slice(i * Semiblock, Semiblock));
            }
        }
        CryptographicOperations.ZeroMemory(block);
        return a;
    }
}
