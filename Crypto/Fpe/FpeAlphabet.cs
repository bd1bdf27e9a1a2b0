namespace Pii.Crypto.Fpe;

/// <summary>
/// The characters a format-preserving value is written in; a character's position is its numeral, so the alphabet's
/// length is the FF1 radix. <see cref="Base36"/> gives the usual 0-9a-z prefixes (radix 10 = decimal digits).
/// </summary>
public sealed class FpeAlphabet
{
    private const string Base36Characters = "0123456789abcdefghijklmnopqrstuvwxyz";

    private readonly string _characters;
    private readonly int[] _numeralOf;

    /// <param name="characters">2 to 65536 distinct UTF-16 code units, no surrogate halves.</param>
    public FpeAlphabet(string characters)
    {
        ArgumentNullException.ThrowIfNull(characters);
        if (characters.Length is < Ff1.MinRadix or > Ff1.MaxRadix)
        {
            throw new ArgumentException($"An FPE alphabet has {Ff1.MinRadix} to {Ff1.MaxRadix} characters.", nameof(characters));
        }
        int highest = 0;
        foreach (char c in characters)
        {
            if (char.IsSurrogate(c))
            {
                throw new ArgumentException("An FPE alphabet holds whole characters, not surrogate halves.", nameof(characters));
            }
            highest = Math.Max(highest, c);
        }
        _numeralOf = new int[highest + 1];
        Array.Fill(_numeralOf, -1);
        for (int i = 0; i < characters.Length; i++)
        {
            if (_numeralOf[characters[i]] >= 0)
            {
                throw new ArgumentException("An FPE alphabet repeats a character.", nameof(characters));
            }
            _numeralOf[characters[i]] = i;
        }
        _characters = characters;
    }

    /// <summary>Decimal digits, radix 10.</summary>
    public static FpeAlphabet Digits { get; } = Base36(10);

    /// <summary>The first <paramref name="radix"/> characters of <c>0-9a-z</c> (2 ≤ radix ≤ 36).</summary>
    public static FpeAlphabet Base36(int radix)
    {
        if (radix is < 2 or > 36)
        {
            throw new ArgumentOutOfRangeException(nameof(radix), "The 0-9a-z alphabet serves radix 2 to 36.");
        }
        return new FpeAlphabet(Base36Characters[..radix]);
    }

    public int Radix => _characters.Length;

    /// <summary>Whether <paramref name="c"/> is one of the alphabet's characters.</summary>
    public bool Contains(char c) => c < _numeralOf.Length && _numeralOf[c] >= 0;

    /// <exception cref="MalformedInputException">A character is not in the alphabet (the message gives its position only).</exception>
    internal void ToNumerals(ReadOnlySpan<char> text, Span<ushort> numerals)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            int numeral = c < _numeralOf.Length ? _numeralOf[c] : -1;
            if (numeral < 0)
            {
                throw new MalformedInputException($"The character at position {i + 1} is outside the radix-{Radix} alphabet.");
            }
            numerals[i] = (ushort)numeral;
        }
    }

    internal void ToCharacters(ReadOnlySpan<ushort> numerals, Span<char> text)
    {
        for (int i = 0; i < numerals.Length; i++)
        {
            text[i] = _characters[numerals[i]];
        }
    }
}
