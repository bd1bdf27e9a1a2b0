using System.Text;

namespace Pii.Crypto.BlindIndexing;

/// <summary>
/// Canonical forms for blind indexing: two spellings of the same value must hash the same. Anything that cannot be
/// normalized unambiguously is rejected with <see cref="MalformedInputException"/> rather than indexed as-is.
/// Messages never contain the value.
/// </summary>
public static class Normalizer
{
    public static string Normalize(BlindIndexKind kind, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return kind switch
        {
            BlindIndexKind.Email => Email(value),
            BlindIndexKind.Phone => Phone(value),
            BlindIndexKind.Ssn => Ssn(value),
            BlindIndexKind.Name => Name(value),
            BlindIndexKind.Exact => value,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    public static string Email(string value)
    {
        string email = value.Trim().ToLowerInvariant();
        return email.Length == 0 ? throw new MalformedInputException("Email is empty.") : email;
    }

    /// <summary>
    /// Strict E.164: after trimming, a leading '+', then digits with single separators (space, '-', '.') between them
    /// and at most one parenthesized digit group; 7 to 15 digits, the first (country code) not 0. Numbers without a
    /// country code, or with a "(0)" trunk prefix, cannot be normalized without guessing, so they are rejected.
    /// </summary>
    public static string Phone(string value)
    {
        ReadOnlySpan<char> text = value.AsSpan().Trim();
        if (text.Length == 0 || text[0] != '+')
        {
            throw new MalformedInputException("Phone number must start with '+' and a country code (E.164).");
        }
        var digits = new StringBuilder("+", 16);
        char previous = '+';
        int groupStart = -1;
        bool usedParentheses = false;
        foreach (char c in text[1..])
        {
            if (char.IsAsciiDigit(c))
            {
                digits.Append(c);
            }
            else if (c is ' ' or '-' or '.')
            {
                if (previous is '+' or '(' or ' ' or '-' or '.')
                {
                    throw new MalformedInputException("Phone number has misplaced separators.");
                }
            }
            else if (c == '(' && !usedParentheses && previous is not '(')
            {
                usedParentheses = true;
                groupStart = digits.Length;
            }
            else if (c == ')' && groupStart >= 0 && char.IsAsciiDigit(previous))
            {
                if (digits.Length - groupStart == 1 && digits[groupStart] == '0')
                {
                    throw new MalformedInputException("Phone number has a (0) trunk prefix; write it without.");
                }
                groupStart = -1;
            }
            else
            {
                throw new MalformedInputException("Phone number contains characters E.164 normalization does not accept.");
            }
            previous = c;
        }
        int digitCount = digits.Length - 1;
        if (groupStart >= 0 || previous is ' ' or '-' or '.' || digitCount is < 7 or > 15 || digits[1] == '0')
        {
            throw new MalformedInputException("Phone number is not a valid E.164 number (7-15 digits, country code first).");
        }
        return digits.ToString();
    }

    public static string Ssn(string value)
    {
        var digits = new StringBuilder(9);
        foreach (char c in value.AsSpan().Trim())
        {
            if (char.IsAsciiDigit(c))
            {
                digits.Append(c);
            }
            else if (c is not ('-' or ' '))
            {
                throw new MalformedInputException("SSN may contain only digits, dashes and spaces.");
            }
        }
        return digits.Length == 9 ? digits.ToString() : throw new MalformedInputException("SSN must have exactly 9 digits.");
    }

    public static string Name(string value)
    {
        string folded = value.Normalize(NormalizationForm.FormKC).ToLowerInvariant();
        var builder = new StringBuilder(folded.Length);
        bool pendingSpace = false;
        foreach (char c in folded)
        {
            if (char.IsWhiteSpace(c))
            {
                pendingSpace = builder.Length > 0;
                continue;
            }
            if (pendingSpace)
            {
                builder.Append(' ');
                pendingSpace = false;
            }
            builder.Append(c);
        }
        if (builder.Length == 0)
        {
            throw new MalformedInputException("Name is empty.");
        }
        // Lowercasing can produce sequences that are no longer NFKC-normal; normalize again so the form is a fixed point.
        return builder.ToString().Normalize(NormalizationForm.FormKC);
    }
}
