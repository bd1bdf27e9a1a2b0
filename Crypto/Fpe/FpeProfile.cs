using System.Buffers.Binary;
using System.Text;

namespace Pii.Crypto.Fpe;

/// <summary>
/// How a column's values are format-preserved: which characters FF1 encrypts and which it keeps in place. The tweak
/// binds table and column, so the same value gives different tokens in different columns but the same token in every
/// row of one column (that is what lets a downstream system join on it, and what it leaks; see README).
/// </summary>
/// <remarks>
/// Tweak layout: <c>"pii-fpe/v1" ‖ u16be(len) ‖ table (UTF-8) ‖ u16be(len) ‖ column (UTF-8)</c>.
/// </remarks>
public sealed class FpeProfile
{
    private const int MaxPartBytes = 256;
    private static readonly byte[] TweakLabel = "pii-fpe/v1"u8.ToArray();

    private readonly bool _ssn;

    private FpeProfile(string name, FpeAlphabet alphabet, bool ssn)
    {
        Name = name;
        Alphabet = alphabet;
        _ssn = ssn;
    }

    /// <summary>
    /// US Social Security numbers: 9 digits in, 9 digits out, written either <c>AAAGGSSSS</c> or <c>AAA-GG-SSSS</c>;
    /// the output keeps the input's shape. The 9 digits are one FF1 radix-10 string (10^9 ≥ 10^6, as FF1 requires).
    /// The output may be a number the SSA never issues (area 000, 666 or 9xx): it is a token, not an SSN.
    /// </summary>
    public static FpeProfile Ssn { get; } = new("ssn", FpeAlphabet.Digits, ssn: true);

    /// <summary>Every character of the value is in <paramref name="alphabet"/>; the length FF1 needs for its radix applies.</summary>
    public static FpeProfile ForAlphabet(string name, FpeAlphabet alphabet)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(alphabet);
        return new FpeProfile(name, alphabet, ssn: false);
    }

    public string Name { get; }

    public FpeAlphabet Alphabet { get; }

    /// <exception cref="MalformedInputException">The value does not have the profile's shape.</exception>
    public string Encrypt(Ff1 key, string value, string table, string column) => Transform(key, value, table, column, decrypt: false);

    /// <exception cref="MalformedInputException">The token does not have the profile's shape.</exception>
    public string Decrypt(Ff1 key, string token, string table, string column) => Transform(key, token, table, column, decrypt: true);

    /// <summary>The FF1 tweak for a column (layout in the type remarks).</summary>
    public static byte[] Tweak(string table, string column)
    {
        ArgumentException.ThrowIfNullOrEmpty(table);
        ArgumentException.ThrowIfNullOrEmpty(column);
        byte[] tableBytes = Encoding.UTF8.GetBytes(table);
        byte[] columnBytes = Encoding.UTF8.GetBytes(column);
        if (tableBytes.Length > MaxPartBytes || columnBytes.Length > MaxPartBytes)
        {
            throw new ArgumentException($"Table and column names are at most {MaxPartBytes} UTF-8 bytes.");
        }
        byte[] tweak = new byte[TweakLabel.Length + 4 + tableBytes.Length + columnBytes.Length];
        TweakLabel.CopyTo(tweak, 0);
        int offset = TweakLabel.Length;
        BinaryPrimitives.WriteUInt16BigEndian(tweak.AsSpan(offset), (ushort)tableBytes.Length);
        tableBytes.CopyTo(tweak, offset + 2);
        offset += 2 + tableBytes.Length;
        BinaryPrimitives.WriteUInt16BigEndian(tweak.AsSpan(offset), (ushort)columnBytes.Length);
        columnBytes.CopyTo(tweak, offset + 2);
        return tweak;
    }

    private string Transform(Ff1 key, string value, string table, string column, bool decrypt)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        byte[] tweak = Tweak(table, column);
        if (!_ssn)
        {
            return decrypt ? FpeText.Decrypt(key, Alphabet, value, tweak) : FpeText.Encrypt(key, Alphabet, value, tweak);
        }

        bool dashed = value.Length == 11 && value[3] == '-' && value[6] == '-';
        if (!dashed && value.Length != 9)
        {
            throw new MalformedInputException("An SSN is 9 digits, written AAAGGSSSS or AAA-GG-SSSS.");
        }
        Span<char> digits = stackalloc char[9];
        if (dashed)
        {
            value.AsSpan(0, 3).CopyTo(digits);
            value.AsSpan(4, 2).CopyTo(digits[3..]);
            value.AsSpan(7, 4).CopyTo(digits[5..]);
        }
        else
        {
            value.AsSpan().CopyTo(digits);
        }
        string result = decrypt ? FpeText.Decrypt(key, Alphabet, digits, tweak) : FpeText.Encrypt(key, Alphabet, digits, tweak);
        digits.Clear();
        return dashed ? $"{result[..3]}-{result[3..5]}-{result[5..]}" : result;
    }
}
