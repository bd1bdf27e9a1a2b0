using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Pii.Crypto.Fpe;

/// <summary>FF1 on text: the characters become numerals in an <see cref="FpeAlphabet"/>, and the result is written back in it.</summary>
public static class FpeText
{
    /// <summary>Encrypts <paramref name="value"/>, every character of which must be in <paramref name="alphabet"/>.</summary>
    /// <exception cref="MalformedInputException">A character outside the alphabet, or a length FF1 does not accept for this radix.</exception>
    public static string Encrypt(Ff1 key, FpeAlphabet alphabet, ReadOnlySpan<char> value, ReadOnlySpan<byte> tweak) =>
        Transform(key, alphabet, value, tweak, decrypt: false);

    /// <summary>Reverses <see cref="Encrypt"/>.</summary>
    /// <exception cref="MalformedInputException">A character outside the alphabet, or a length FF1 does not accept for this radix.</exception>
    public static string Decrypt(Ff1 key, FpeAlphabet alphabet, ReadOnlySpan<char> value, ReadOnlySpan<byte> tweak) =>
        Transform(key, alphabet, value, tweak, decrypt: true);

    private static string Transform(Ff1 key, FpeAlphabet alphabet, ReadOnlySpan<char> value, ReadOnlySpan<byte> tweak, bool decrypt)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(alphabet);
        if (value.Length > Ff1.MaxLength)
        {
            throw new MalformedInputException($"FF1 takes at most {Ff1.MaxLength} characters.");
        }
        Span<ushort> input = value.Length <= 128 ? stackalloc ushort[value.Length] : new ushort[value.Length];
        Span<ushort> output = value.Length <= 128 ? stackalloc ushort[value.Length] : new ushort[value.Length];
        try
        {
            alphabet.ToNumerals(value, input);
            if (decrypt)
            {
                key.Decrypt(alphabet.Radix, input, tweak, output);
            }
            else
            {
                key.Encrypt(alphabet.Radix, input, tweak, output);
            }
            Span<char> text = value.Length <= 128 ? stackalloc char[value.Length] : new char[value.Length];
            alphabet.ToCharacters(output, text);
            var result = new string(text);
            text.Clear();
            return result;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(input));
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(output));
        }
    }
}
