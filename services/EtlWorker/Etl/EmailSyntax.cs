using System.Text.RegularExpressions;
using Pii.Crypto;
using Pii.Crypto.BlindIndexing;

namespace Pii.EtlWorker.Etl;

/// <summary>
/// The HTML specification's "valid e-mail address" (input type=email), then the blind-index normal form. The regex runs
/// non-backtracking (linear time), so it needs no timeout — a timeout fired under CPU contention and failed whole passes.
/// </summary>
public static partial class EmailSyntax
{
    private const int MaxLength = 254;

    public static string Normalize(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var trimmed = value.Trim();
        if (trimmed.Length > MaxLength || !HtmlEmail().IsMatch(trimmed))
        {
            throw new MalformedInputException("Not a valid e-mail address.");
        }

        return Normalizer.Email(trimmed);
    }

    [GeneratedRegex(@"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$", RegexOptions.CultureInvariant | RegexOptions.NonBacktracking)]
    private static partial Regex HtmlEmail();
}
