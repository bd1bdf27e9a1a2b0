using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace Pii.Crypto.Fpe;

/// <summary>
/// FF1 format-preserving encryption (NIST SP 800-38G, section 5.1, Algorithms 7 and 8) over AES. Encrypts a string of
/// numerals in base <c>radix</c> to another string of the same length and radix; the tweak is public, like AEAD
/// associated data, but there is no tag: see README "Format-preserving encryption" for what that leaks.
/// </summary>
/// <remarks>
/// The algorithm, with n = the number of numerals, t = the tweak's byte length:
/// <code>
/// u = floor(n/2); v = n - u; A = X[0..u); B = X[u..n)
/// b = ceil(ceil(v * log2(radix)) / 8)          bytes of NUM(B); computed exactly as the byte length of radix^v - 1
/// d = 4 * ceil(b/4) + 4                          bytes of pseudo-random output per round
/// P = 01 02 01 ‖ radix (3 bytes BE) ‖ 0a ‖ (u mod 256) ‖ n (4 bytes BE) ‖ t (4 bytes BE)          one AES block
/// for i = 0..9:
///   Q = T ‖ 00^((-t-b-1) mod 16) ‖ i ‖ NUM_radix(B) as b bytes BE                               whole AES blocks
///   R = CBC-MAC_AES(P ‖ Q)  (zero IV, last block)
///   S = first d bytes of R ‖ AES(R ⊕ [1]^16) ‖ AES(R ⊕ [2]^16) ‖ …
///   m = u if i is even, else v
///   C = STR^m_radix((NUM_radix(A) + NUM(S)) mod radix^m); A = B; B = C
/// return A ‖ B
/// </code>
/// Decryption runs the rounds from 9 down to 0 with Q built from A and C = (NUM(B) - NUM(S)) mod radix^m; B = A; A = C.
/// Numerals are carried as integers between rounds (NUM(STR(c)) = c), so strings are only built at the end. When
/// radix^v fits in 64 bits (9-digit SSNs, card numbers) the rounds use 64/128-bit integers; longer inputs use
/// <see cref="BigInteger"/>.
/// <para>Bounds (SP 800-38G Rev. 1): 2 ≤ radix ≤ 65536; minlen is the least n ≥ 2 with radix^n ≥ 1,000,000; n is at
/// most <see cref="MaxLength"/> and the tweak at most <see cref="MaxTweakLength"/> bytes (the standard allows up to
/// 2^32 - 1 for both; ours are bounded so an input cannot make one call arbitrarily slow).</para>
/// <para>Thread-safe: AES runs through one cached ECB transform per key under a lock (a fresh AES context per block
/// would cost more than the rest of a 9-digit encryption).</para>
/// </remarks>
public sealed class Ff1 : IDisposable
{
    public const int MinRadix = 2;
    public const int MaxRadix = 65536;

    /// <summary>Longest numeral string accepted.</summary>
    public const int MaxLength = 4096;

    /// <summary>Longest tweak accepted, in bytes.</summary>
    public const int MaxTweakLength = 1024;

    private const int Rounds = 10;
    private const int BlockSize = 16;

    private readonly Aes _aes;
    private readonly ICryptoTransform _ecb;
    private readonly Lock _gate = new();
    private readonly byte[] _blockIn = new byte[BlockSize];
    private readonly byte[] _blockOut = new byte[BlockSize];
    private bool _disposed;

    /// <param name="key">An AES key of 16, 24 or 32 bytes (this project uses 32; the others serve NIST's samples).</param>
    public Ff1(ReadOnlySpan<byte> key)
    {
        if (key.Length is not (16 or 24 or 32))
        {
            throw new ArgumentException("An FF1 key is an AES key of 16, 24 or 32 bytes.", nameof(key));
        }
        _aes = Aes.Create();
        byte[] copy = key.ToArray();
        try
        {
            _aes.Key = copy;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(copy);
        }
        _aes.Mode = CipherMode.ECB;
        _aes.Padding = PaddingMode.None;
        _ecb = _aes.CreateEncryptor();
    }

    /// <summary>The least length FF1 accepts for <paramref name="radix"/>: radix^minlen ≥ 1,000,000, and at least 2.</summary>
    public static int MinLength(int radix)
    {
        CheckRadix(radix);
        int length = 0;
        for (long power = 1; power < 1_000_000; power *= radix)
        {
            length++;
        }
        return Math.Max(2, length);
    }

    /// <summary>Encrypts <paramref name="numerals"/> (each below <paramref name="radix"/>) into <paramref name="output"/> (same length).</summary>
    /// <exception cref="MalformedInputException">A numeral is not below the radix, or the length or tweak is out of bounds.</exception>
    public void Encrypt(int radix, ReadOnlySpan<ushort> numerals, ReadOnlySpan<byte> tweak, Span<ushort> output) =>
        Transform(radix, numerals, tweak, output, decrypt: false);

    /// <summary>Reverses <see cref="Encrypt"/> under the same key, radix and tweak.</summary>
    /// <exception cref="MalformedInputException">A numeral is not below the radix, or the length or tweak is out of bounds.</exception>
    public void Decrypt(int radix, ReadOnlySpan<ushort> numerals, ReadOnlySpan<byte> tweak, Span<ushort> output) =>
        Transform(radix, numerals, tweak, output, decrypt: true);

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _ecb.Dispose();
            _aes.Dispose();
            CryptographicOperations.ZeroMemory(_blockIn);
            CryptographicOperations.ZeroMemory(_blockOut);
        }
    }

    private void Transform(int radix, ReadOnlySpan<ushort> numerals, ReadOnlySpan<byte> tweak, Span<ushort> output, bool decrypt)
    {
        CheckRadix(radix);
        int n = numerals.Length;
        if (n < MinLength(radix) || n > MaxLength)
        {
            throw new MalformedInputException($"FF1 in radix {radix} takes {MinLength(radix)} to {MaxLength} numerals.");
        }
        if (tweak.Length > MaxTweakLength)
        {
            throw new MalformedInputException($"An FF1 tweak is at most {MaxTweakLength} bytes.");
        }
        if (output.Length != n)
        {
            throw new ArgumentException("The output must have as many numerals as the input.", nameof(output));
        }
        foreach (ushort numeral in numerals)
        {
            if (numeral >= radix)
            {
                throw new MalformedInputException($"An FF1 numeral is not below the radix {radix}.");
            }
        }

        int u = n / 2;
        int v = n - u;
        Span<byte> p = stackalloc byte[BlockSize];
        p[0] = 1;
        p[1] = 2;
        p[2] = 1;
        p[3] = (byte)(radix >> 16);
        p[4] = (byte)(radix >> 8);
        p[5] = (byte)radix;
        p[6] = 10;
        p[7] = (byte)(u % 256);
        BinaryPrimitives.WriteUInt32BigEndian(p[8..], (uint)n);
        BinaryPrimitives.WriteUInt32BigEndian(p[12..], (uint)tweak.Length);

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (TryPowerUInt64(radix, v, out ulong radixPowV))
            {
                TransformSmall(radix, numerals, tweak, output, decrypt, u, v, radixPowV, p);
            }
            else
            {
                TransformBig(radix, numerals, tweak, output, decrypt, u, v, p);
            }
        }
    }

    /// <summary>The rounds when radix^v &lt; 2^64: b ≤ 8, d ≤ 12, so NUM(S) fits in 128 bits.</summary>
    private void TransformSmall(int radix, ReadOnlySpan<ushort> numerals, ReadOnlySpan<byte> tweak, Span<ushort> output,
        bool decrypt, int u, int v, ulong radixPowV, ReadOnlySpan<byte> p)
    {
        ulong radixPowU = PowerUInt64(radix, u);
        int b = (64 - BitOperations.LeadingZeroCount(radixPowV - 1) + 7) / 8;
        int d = 4 * ((b + 3) / 4) + 4;
        int qLength = QLength(tweak.Length, b);
        Span<byte> q = qLength <= 256 ? stackalloc byte[qLength] : new byte[qLength];
        q.Clear();
        tweak.CopyTo(q);
        Span<byte> macOfP = stackalloc byte[BlockSize];
        Span<byte> r = stackalloc byte[BlockSize];
        EncryptBlock(p, macOfP);

        ulong a = NumSmall(radix, numerals[..u]);
        ulong bValue = NumSmall(radix, numerals[u..]);
        for (int step = 0; step < Rounds; step++)
        {
            int i = decrypt ? Rounds - 1 - step : step;
            ulong modulus = i % 2 == 0 ? radixPowU : radixPowV;
            q[qLength - b - 1] = (byte)i;
            WriteBigEndian(decrypt ? a : bValue, q[(qLength - b)..]);
            CbcMac(macOfP, q, r);
            UInt128 s = 0;
            for (int k = 0; k < d; k++)
            {
                s = (s << 8) | r[k];
            }
            ulong y = (ulong)(s % modulus);
            if (decrypt)
            {
                ulong c = bValue >= y ? bValue - y : (ulong)((UInt128)bValue + modulus - y);
                bValue = a;
                a = c;
            }
            else
            {
                ulong c = (ulong)(((UInt128)a + y) % modulus);
                a = bValue;
                bValue = c;
            }
        }
        r.Clear();
        StrSmall(radix, a, output[..u]);
        StrSmall(radix, bValue, output[u..]);
    }

    /// <summary>The rounds for any length within bounds, with arbitrary-precision integers.</summary>
    private void TransformBig(int radix, ReadOnlySpan<ushort> numerals, ReadOnlySpan<byte> tweak, Span<ushort> output,
        bool decrypt, int u, int v, ReadOnlySpan<byte> p)
    {
        BigInteger radixPowU = BigInteger.Pow(radix, u);
        BigInteger radixPowV = BigInteger.Pow(radix, v);
        int b = (int)(((radixPowV - 1).GetBitLength() + 7) / 8);
        int d = 4 * ((b + 3) / 4) + 4;
        int qLength = QLength(tweak.Length, b);
        byte[] q = new byte[qLength];
        tweak.CopyTo(q);
        Span<byte> macOfP = stackalloc byte[BlockSize];
        Span<byte> r = stackalloc byte[BlockSize];
        byte[] s = new byte[(d + BlockSize - 1) / BlockSize * BlockSize];
        Span<byte> counterBlock = stackalloc byte[BlockSize];
        EncryptBlock(p, macOfP);

        BigInteger a = NumBig(radix, numerals[..u]);
        BigInteger bValue = NumBig(radix, numerals[u..]);
        for (int step = 0; step < Rounds; step++)
        {
            int i = decrypt ? Rounds - 1 - step : step;
            BigInteger modulus = i % 2 == 0 ? radixPowU : radixPowV;
            q[qLength - b - 1] = (byte)i;
            Span<byte> numField = q.AsSpan(qLength - b);
            numField.Clear();
            BigInteger source = decrypt ? a : bValue;
            if (!source.TryWriteBytes(numField[(b - source.GetByteCount(isUnsigned: true))..], out _, isUnsigned: true, isBigEndian: true))
            {
                throw new InvalidOperationException("FF1: NUM(B) does not fit its b bytes.");
            }
            CbcMac(macOfP, q, r);
            r.CopyTo(s);
            for (int j = 1; j * BlockSize < d; j++)
            {
                r.CopyTo(counterBlock);
                BinaryPrimitives.WriteUInt32BigEndian(counterBlock[12..], BinaryPrimitives.ReadUInt32BigEndian(r[12..]) ^ (uint)j);
                EncryptBlock(counterBlock, s.AsSpan(j * BlockSize, BlockSize));
            }
            BigInteger y = new(s.AsSpan(0, d), isUnsigned: true, isBigEndian: true);
            if (decrypt)
            {
                BigInteger c = BigInteger.Remainder(bValue - y, modulus);
                if (c.Sign < 0)
                {
                    c += modulus;
                }
                bValue = a;
                a = c;
            }
            else
            {
                BigInteger c = BigInteger.Remainder(a + y, modulus);
                a = bValue;
                bValue = c;
            }
        }
        CryptographicOperations.ZeroMemory(s);
        r.Clear();
        StrBig(radix, a, output[..u]);
        StrBig(radix, bValue, output[u..]);
    }

    /// <summary>|Q| = t + ((-t-b-1) mod 16) + 1 + b: a whole number of blocks.</summary>
    private static int QLength(int t, int b)
    {
        int pad = ((-t - b - 1) % BlockSize + BlockSize) % BlockSize;
        return t + pad + 1 + b;
    }

    /// <summary>R = CBC-MAC(P ‖ Q) continued from AES(P).</summary>
    private void CbcMac(ReadOnlySpan<byte> macOfP, ReadOnlySpan<byte> q, Span<byte> r)
    {
        macOfP.CopyTo(r);
        for (int offset = 0; offset < q.Length; offset += BlockSize)
        {
            for (int k = 0; k < BlockSize; k++)
            {
                _blockIn[k] = (byte)(r[k] ^ q[offset + k]);
            }
            _ecb.TransformBlock(_blockIn, 0, BlockSize, _blockOut, 0);
            _blockOut.CopyTo(r);
        }
    }

    private void EncryptBlock(ReadOnlySpan<byte> input, Span<byte> output)
    {
        input.CopyTo(_blockIn);
        _ecb.TransformBlock(_blockIn, 0, BlockSize, _blockOut, 0);
        _blockOut.CopyTo(output);
    }

    private static void WriteBigEndian(ulong value, Span<byte> destination)
    {
        for (int k = destination.Length - 1; k >= 0; k--)
        {
            destination[k] = (byte)value;
            value >>= 8;
        }
    }

    private static ulong NumSmall(int radix, ReadOnlySpan<ushort> numerals)
    {
        ulong value = 0;
        foreach (ushort numeral in numerals)
        {
            value = value * (ulong)radix + numeral;
        }
        return value;
    }

    private static void StrSmall(int radix, ulong value, Span<ushort> destination)
    {
        for (int k = destination.Length - 1; k >= 0; k--)
        {
            destination[k] = (ushort)(value % (ulong)radix);
            value /= (ulong)radix;
        }
    }

    private static BigInteger NumBig(int radix, ReadOnlySpan<ushort> numerals)
    {
        BigInteger value = BigInteger.Zero;
        foreach (ushort numeral in numerals)
        {
            value = value * radix + numeral;
        }
        return value;
    }

    private static void StrBig(int radix, BigInteger value, Span<ushort> destination)
    {
        for (int k = destination.Length - 1; k >= 0; k--)
        {
            value = BigInteger.DivRem(value, radix, out BigInteger numeral);
            destination[k] = (ushort)(int)numeral;
        }
    }

    private static bool TryPowerUInt64(int radix, int exponent, out ulong power)
    {
        power = 1;
        for (int k = 0; k < exponent; k++)
        {
            UInt128 next = (UInt128)power * (uint)radix;
            if (next > ulong.MaxValue)
            {
                return false;
            }
            power = (ulong)next;
        }
        return true;
    }

    private static ulong PowerUInt64(int radix, int exponent)
    {
        ulong power = 1;
        for (int k = 0; k < exponent; k++)
        {
            power *= (ulong)radix;
        }
        return power;
    }

    private static void CheckRadix(int radix)
    {
        if (radix is < MinRadix or > MaxRadix)
        {
            throw new MalformedInputException($"The FF1 radix must be {MinRadix} to {MaxRadix}.");
        }
    }
}
