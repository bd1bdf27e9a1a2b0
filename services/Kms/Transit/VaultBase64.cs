using System.Buffers.Text;

namespace Pii.Kms.Transit;

/// <summary>
/// Strict standard base64 with padding, as Go's <c>base64.StdEncoding</c> reads it: no URL-safe alphabet,
/// no missing padding, no embedded spaces (.NET's decoder tolerates whitespace; Vault does not).
/// Go additionally skips CR and LF, which we mirror.
/// </summary>
public static class VaultBase64
{
    /// <summary>Decodes or throws <see cref="FormatException"/> with Go's message <c>illegal base64 data at input byte N</c>.</summary>
    public static byte[] Decode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Contains('\r', StringComparison.Ordinal) || text.Contains('\n', StringComparison.Ordinal))
        {
            text = text.Replace("\r", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal);
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var valid = c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '+' or '/';
            if (c == '=')
            {
                var padding = text.Length - i;
                var tailIsPadding = padding <= 2 && text.AsSpan(i).TrimStart('=').IsEmpty;
                if (tailIsPadding && text.Length % 4 == 0)
                {
                    break;
                }

                throw Illegal(i);
            }

            if (!valid)
            {
                throw Illegal(i);
            }
        }

        if (text.Length % 4 != 0)
        {
            throw Illegal(text.Length / 4 * 4);
        }

        var buffer = new byte[Base64.GetMaxDecodedFromUtf8Length(text.Length)];
        if (!Convert.TryFromBase64String(text, buffer, out var written))
        {
            throw Illegal(0);
        }

        return written == buffer.Length ? buffer : buffer.AsSpan(0, written).ToArray();
    }

    public static bool TryDecode(string text, out byte[] bytes)
    {
        try
        {
            bytes = Decode(text);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }

    public static string Encode(ReadOnlySpan<byte> bytes) => Convert.ToBase64String(bytes);

    private static FormatException Illegal(int index) => new($"illegal base64 data at input byte {index}");
}
