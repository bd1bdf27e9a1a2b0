using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Pii.Crypto.Siv;

/// <summary>
/// AES-SIV, RFC 5297: deterministic authenticated encryption with an associated-data vector.
/// Key: 32, 48 or 64 bytes (AES-SIV-256/384/512); the first half keys S2V (AES-CMAC), the second half keys AES-CTR.
/// Output: SIV (16 bytes) ‖ ciphertext (same length as the plaintext).
/// </summary>
/// <remarks>
/// Built on <see cref="Aes"/> with long-lived transforms (one-shot EncryptEcb/EncryptCbc would set up a native cipher
/// context and expand the key on every call): CMAC is a CBC-MAC through a CBC encryptor over a prepared copy of the
/// message, 256 bytes per call, and CTR encrypts a buffer of counter blocks through an ECB encryptor. A short field
/// costs three AES calls and no heap allocation. The CBC encryptor keeps chaining across calls, so each new MAC XORs
/// the carried chaining value into its first block, which restarts the chain from a zero IV.
/// An instance holds scratch buffers and is not thread-safe: use one per thread.
/// </remarks>
public sealed class AesSiv : IDisposable
{
    /// <summary>Size of the synthetic IV that precedes the ciphertext.</summary>
    public const int SivSize = 16;

    /// <summary>RFC 5297 §7: S2V takes at most 127 components, the plaintext being the last.</summary>
    public const int MaxAssociatedDataItems = 126;

    private const int BlockSize = 16;
    private const int ChunkSize = 256;

    private readonly Aes _macAes;
    private readonly Aes _ctrAes;
    private readonly ICryptoTransform _macCbc;
    private readonly ICryptoTransform _ctrEcb;
    private readonly byte[] _macChain = new byte[BlockSize];
    private readonly byte[] _input = new byte[ChunkSize];
    private readonly byte[] _output = new byte[ChunkSize];
    private readonly byte[] _subkey1 = new byte[BlockSize];
    private readonly byte[] _subkey2 = new byte[BlockSize];
    private readonly byte[] _macOfZeroBlock = new byte[BlockSize];
    private bool _disposed;

    public AesSiv(ReadOnlySpan<byte> key)
    {
        if (key.Length is not (32 or 48 or 64))
        {
            throw new ArgumentException("AES-SIV keys are 32, 48 or 64 bytes.", nameof(key));
        }

        int half = key.Length / 2;
        _macAes = CreateAes(key[..half], CipherMode.CBC);
        _ctrAes = CreateAes(key[half..], CipherMode.ECB);
        _macCbc = _macAes.CreateEncryptor();
        _ctrEcb = _ctrAes.CreateEncryptor();

        // CMAC subkeys (RFC 4493 §2.3): L = AES(K, 0^128); K1 = dbl(L); K2 = dbl(K1).
        Span<byte> l = stackalloc byte[BlockSize];
        _macAes.EncryptEcb(new byte[BlockSize], l, PaddingMode.None);
        Double(l, _subkey1);
        Double(_subkey1, _subkey2);
        CryptographicOperations.ZeroMemory(l);

        // S2V always starts from CMAC(<zero>); it depends on the key only, so it is computed once.
        Span<byte> zero = stackalloc byte[BlockSize];
        zero.Clear();
        Cmac(zero, default, _macOfZeroBlock);
    }

    /// <summary>Output length for a plaintext of <paramref name="plaintextLength"/> bytes.</summary>
    public static int CiphertextLength(int plaintextLength) => SivSize + plaintextLength;

    /// <summary>Encrypts with a single associated-data item (the common case; no allocation).</summary>
    public void Encrypt(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> associatedData, Span<byte> destination)
    {
        ThrowIfDisposed();
        CheckDestination(destination, plaintext.Length);
        Span<byte> state = stackalloc byte[BlockSize];
        StartS2V(state);
        AbsorbAssociatedData(state, associatedData);
        FinishS2V(state, plaintext, destination[..SivSize]);
        Ctr(destination[..SivSize], plaintext, destination.Slice(SivSize, plaintext.Length));
    }

    /// <summary>Encrypts with an associated-data vector (RFC 5297 S2V over AD1..ADn, plaintext).</summary>
    public void Encrypt(ReadOnlySpan<byte> plaintext, IReadOnlyList<byte[]> associatedData, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(associatedData);
        ThrowIfDisposed();
        CheckVector(associatedData);
        CheckDestination(destination, plaintext.Length);
        Span<byte> state = stackalloc byte[BlockSize];
        StartS2V(state);
        foreach (byte[] item in associatedData)
        {
            AbsorbAssociatedData(state, item);
        }
        FinishS2V(state, plaintext, destination[..SivSize]);
        Ctr(destination[..SivSize], plaintext, destination.Slice(SivSize, plaintext.Length));
    }

    /// <summary>Decrypts SIV ‖ ciphertext with a single associated-data item; throws <see cref="TamperedException"/> on failure.</summary>
    public void Decrypt(ReadOnlySpan<byte> sivAndCiphertext, ReadOnlySpan<byte> associatedData, Span<byte> destination)
    {
        ThrowIfDisposed();
        int plaintextLength = PlaintextLength(sivAndCiphertext);
        ReadOnlySpan<byte> siv = sivAndCiphertext[..SivSize];
        Span<byte> plaintext = destination[..plaintextLength];
        Ctr(siv, sivAndCiphertext[SivSize..], plaintext);
        Span<byte> state = stackalloc byte[BlockSize];
        StartS2V(state);
        AbsorbAssociatedData(state, associatedData);
        Verify(state, plaintext, siv);
    }

    /// <summary>Decrypts SIV ‖ ciphertext with an associated-data vector; throws <see cref="TamperedException"/> on failure.</summary>
    public void Decrypt(ReadOnlySpan<byte> sivAndCiphertext, IReadOnlyList<byte[]> associatedData, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(associatedData);
        ThrowIfDisposed();
        CheckVector(associatedData);
        int plaintextLength = PlaintextLength(sivAndCiphertext);
        ReadOnlySpan<byte> siv = sivAndCiphertext[..SivSize];
        Span<byte> plaintext = destination[..plaintextLength];
        Ctr(siv, sivAndCiphertext[SivSize..], plaintext);
        Span<byte> state = stackalloc byte[BlockSize];
        StartS2V(state);
        foreach (byte[] item in associatedData)
        {
            AbsorbAssociatedData(state, item);
        }
        Verify(state, plaintext, siv);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _macCbc.Dispose();
        _ctrEcb.Dispose();
        _macAes.Dispose();
        _ctrAes.Dispose();
        CryptographicOperations.ZeroMemory(_macChain);
        CryptographicOperations.ZeroMemory(_subkey1);
        CryptographicOperations.ZeroMemory(_subkey2);
        CryptographicOperations.ZeroMemory(_macOfZeroBlock);
    }

    private static int PlaintextLength(ReadOnlySpan<byte> sivAndCiphertext) =>
        sivAndCiphertext.Length < SivSize
            ? throw new TruncatedException("AES-SIV input is shorter than its 16-byte synthetic IV.")
            : sivAndCiphertext.Length - SivSize;

    private void Verify(Span<byte> state, Span<byte> plaintext, ReadOnlySpan<byte> siv)
    {
        Span<byte> expected = stackalloc byte[BlockSize];
        FinishS2V(state, plaintext, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, siv))
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw new TamperedException("AES-SIV authentication failed.");
        }
    }

    private static Aes CreateAes(ReadOnlySpan<byte> key, CipherMode mode)
    {
        var aes = Aes.Create();
        aes.Mode = mode;
        aes.Padding = PaddingMode.None;
        aes.IV = new byte[BlockSize];
        byte[] copy = key.ToArray();
        aes.Key = copy;
        CryptographicOperations.ZeroMemory(copy);
        return aes;
    }

    private static void CheckDestination(Span<byte> destination, int plaintextLength)
    {
        if (destination.Length < SivSize + plaintextLength)
        {
            throw new ArgumentException("Destination is too small.", nameof(destination));
        }
    }

    private static void CheckVector(IReadOnlyList<byte[]> associatedData)
    {
        if (associatedData.Count > MaxAssociatedDataItems)
        {
            throw new ArgumentException("AES-SIV accepts at most 126 associated-data items.", nameof(associatedData));
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private void StartS2V(Span<byte> state) => _macOfZeroBlock.CopyTo(state);

    // D = dbl(D) xor CMAC(K, Si)
    private void AbsorbAssociatedData(Span<byte> state, ReadOnlySpan<byte> item)
    {
        Span<byte> mac = stackalloc byte[BlockSize];
        Cmac(item, default, mac);
        Double(state, state);
        Xor(state, mac);
    }

    // If len(Sn) >= 128: T = Sn xorend D, else T = dbl(D) xor pad(Sn); V = CMAC(K, T).
    private void FinishS2V(Span<byte> state, ReadOnlySpan<byte> last, Span<byte> siv)
    {
        if (last.Length >= BlockSize)
        {
            Cmac(last, state, siv);
            return;
        }
        Span<byte> t = stackalloc byte[BlockSize];
        t.Clear();
        last.CopyTo(t);
        t[last.Length] = 0x80;
        Double(state, state);
        Xor(t, state);
        Cmac(t, default, siv);
        CryptographicOperations.ZeroMemory(t);
    }

    /// <summary>
    /// AES-CMAC (RFC 4493) of <paramref name="message"/>, optionally with <paramref name="xorEnd"/> (16 bytes) XORed
    /// into the message's last 16 bytes first, without copying the message to the heap.
    /// </summary>
    private void Cmac(ReadOnlySpan<byte> message, ReadOnlySpan<byte> xorEnd, Span<byte> mac)
    {
        int length = message.Length;
        int blocks = Math.Max(1, (length + BlockSize - 1) / BlockSize);
        int total = blocks * BlockSize;
        bool lastBlockComplete = length > 0 && length % BlockSize == 0;
        int xorEndStart = length - BlockSize;

        for (int offset = 0; offset < total; offset += ChunkSize)
        {
            int size = Math.Min(ChunkSize, total - offset);
            Span<byte> input = _input.AsSpan(0, size);
            input.Clear();
            int available = Math.Min(size, Math.Max(0, length - offset));
            message.Slice(offset, available).CopyTo(input);

            if (!xorEnd.IsEmpty)
            {
                for (int p = Math.Max(offset, xorEndStart); p < offset + available; p++)
                {
                    input[p - offset] ^= xorEnd[p - xorEndStart];
                }
            }

            if (offset + size == total)
            {
                Span<byte> lastBlock = input[(size - BlockSize)..];
                if (lastBlockComplete)
                {
                    Xor(lastBlock, _subkey1);
                }
                else
                {
                    input[length - offset] = 0x80;
                    Xor(lastBlock, _subkey2);
                }
            }

            if (offset == 0)
            {
                Xor(input, _macChain);
            }
            _macCbc.TransformBlock(_input, 0, size, _output, 0);
            _output.AsSpan(size - BlockSize, BlockSize).CopyTo(_macChain);
        }

        // The MAC is the last CBC block, which is also the chaining value the encryptor now carries.
        _macChain.CopyTo(mac);
        CryptographicOperations.ZeroMemory(_input);
    }

    /// <summary>AES-CTR with Q = V with bits 63 and 31 (counted from the right) cleared, per RFC 5297 §2.5.</summary>
    private void Ctr(ReadOnlySpan<byte> siv, ReadOnlySpan<byte> input, Span<byte> output)
    {
        ulong high = BinaryPrimitives.ReadUInt64BigEndian(siv);
        ulong low = BinaryPrimitives.ReadUInt64BigEndian(siv[8..]) & 0x7FFF_FFFF_7FFF_FFFFUL;

        Span<byte> counters = _input;
        Span<byte> keystream = _output;
        for (int offset = 0; offset < input.Length; offset += ChunkSize)
        {
            int size = Math.Min(ChunkSize, input.Length - offset);
            int blocks = (size + BlockSize - 1) / BlockSize;
            for (int b = 0; b < blocks; b++)
            {
                BinaryPrimitives.WriteUInt64BigEndian(counters[(b * BlockSize)..], high);
                BinaryPrimitives.WriteUInt64BigEndian(counters[(b * BlockSize + 8)..], low);
                low++;
                if (low == 0)
                {
                    high++;
                }
            }
            int bytes = blocks * BlockSize;
            _ctrEcb.TransformBlock(_input, 0, bytes, _output, 0);
            for (int i = 0; i < size; i++)
            {
                output[offset + i] = (byte)(input[offset + i] ^ keystream[i]);
            }
        }
        CryptographicOperations.ZeroMemory(keystream);
    }

    /// <summary>Doubling in GF(2^128) (RFC 5297 §2.3): shift left one bit, XOR 0x87 into the last byte on carry.</summary>
    private static void Double(ReadOnlySpan<byte> input, Span<byte> output)
    {
        ulong high = BinaryPrimitives.ReadUInt64BigEndian(input);
        ulong low = BinaryPrimitives.ReadUInt64BigEndian(input[8..]);
        ulong carry = high >> 63;
        high = (high << 1) | (low >> 63);
        low = (low << 1) ^ (0x87UL & (0UL - carry));
        BinaryPrimitives.WriteUInt64BigEndian(output, high);
        BinaryPrimitives.WriteUInt64BigEndian(output[8..], low);
    }

    private static void Xor(Span<byte> target, ReadOnlySpan<byte> other)
    {
        for (int i = 0; i < BlockSize; i++)
        {
            target[i] ^= other[i];
        }
    }
}
