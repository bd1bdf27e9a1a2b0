using Microsoft.Net.Http.Headers;

namespace Pii.DocumentService.Documents;

/// <summary>A satisfiable single byte range [Start, End] (inclusive, as HTTP writes it).</summary>
internal readonly record struct ByteRangeRequest(long Start, long End)
{
    public long Length => End - Start + 1;

    /// <summary>
    /// RFC 9110 §14: no header, another unit, several ranges or a syntax error → null (serve the whole document);
    /// a single range that does not overlap the document → <paramref name="unsatisfiable"/>.
    /// </summary>
    public static ByteRangeRequest? Parse(string? header, long length, out bool unsatisfiable)
    {
        unsatisfiable = false;
        if (string.IsNullOrEmpty(header) || !RangeHeaderValue.TryParse(header, out var range)
            || !string.Equals(range.Unit.Value, "bytes", StringComparison.OrdinalIgnoreCase) || range.Ranges.Count != 1)
        {
            return null;
        }
        var item = range.Ranges.First();
        long start, end;
        if (item.From is null)
        {
            var suffix = item.To!.Value;
            if (suffix == 0 || length == 0)
            {
                unsatisfiable = true;
                return null;
            }
            start = Math.Max(0, length - suffix);
            end = length - 1;
        }
        else
        {
            start = item.From.Value;
            end = Math.Min(item.To ?? long.MaxValue, length - 1);
            if (start >= length)
            {
                unsatisfiable = true;
                return null;
            }
        }
        return new ByteRangeRequest(start, end);
    }
}
