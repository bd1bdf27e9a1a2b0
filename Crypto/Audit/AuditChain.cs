using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Pii.Crypto.Audit;

/// <summary>
/// The hash-chained JSON-lines audit log shared by the key service (writer) and <c>pii audit verify</c> (verifier).
///
/// File layout: UTF-8, one JSON object per line, each line terminated by a single LF (0x0A), no BOM.
/// Every line's first member is <c>"prev_hash"</c>, 64 lowercase hex characters:
///   line 1:  prev_hash = <see cref="GenesisHash"/> (64 × '0')
///   line n:  prev_hash = lowercase hex SHA-256 of the exact bytes of line n-1, excluding its terminating LF.
/// The other members are free-form (the key service writes Vault-style audit entries whose sensitive
/// strings are already replaced by <c>hmac-sha256:&lt;hex&gt;</c>). A line is written with one append, so a crash
/// can leave at most one trailing line without its LF ("torn tail"); the verifier reports it and ignores it,
/// and the writer cuts it off before appending, so the chain continues from the last complete line.
/// Editing, deleting, inserting or reordering any complete line breaks the chain at the next line (or at the
/// edited line itself when it no longer parses). An unkeyed chain cannot stop someone who rewrites the whole
/// tail, nor show that lines were cut from the end; it makes every partial edit evident.
///
/// Anchors close that gap: an anchor <c>N:HASH</c> is the line count and the SHA-256 of line N (the value line N+1
/// will carry as prev_hash), written down outside the log, e.g. by an auditor after a verification. Verifying with
/// it later fails when the log has fewer than N lines or when line N's hash differs, so nothing up to line N can
/// have been removed, rewritten or recomputed since.
/// </summary>
public static class AuditChain
{
    public const string GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>Longest line the verifier accepts (a 32 MiB request body after hashing stays far below this).</summary>
    public const int MaxLineBytes = 256 * 1024 * 1024;

    private static readonly byte[] PrevHashPrefix = "{\"prev_hash\":\""u8.ToArray();

    public static string HashLine(ReadOnlySpan<byte> lineWithoutNewline) => Convert.ToHexStringLower(SHA256.HashData(lineWithoutNewline));

    /// <summary>Builds a line from the previous hash and a serialized JSON object (with its LF when asked).</summary>
    public static byte[] ComposeLine(string prevHash, ReadOnlySpan<byte> jsonObject, bool trailingNewline = false)
    {
        ArgumentNullException.ThrowIfNull(prevHash);
        if (jsonObject.Length < 2 || jsonObject[0] != (byte)'{' || jsonObject[^1] != (byte)'}')
        {
            throw new ArgumentException("The entry must be a serialized JSON object.", nameof(jsonObject));
        }

        var isEmpty = jsonObject.Length == 2;
        var line = new byte[PrevHashPrefix.Length + 64 + 1 + (isEmpty ? 0 : 1) + jsonObject.Length - 1 + (trailingNewline ? 1 : 0)];
        var span = line.AsSpan();
        PrevHashPrefix.CopyTo(span);
        var pos = PrevHashPrefix.Length;
        pos += Encoding.ASCII.GetBytes(prevHash, span[pos..]);
        span[pos++] = (byte)'"';
        if (!isEmpty)
        {
            span[pos++] = (byte)',';
        }

        jsonObject[1..].CopyTo(span[pos..]);
        if (trailingNewline)
        {
            span[^1] = (byte)'\n';
        }

        return line;
    }

    /// <summary>
    /// Verifies a whole log, and that it still holds <paramref name="anchor"/> when one is given. Never throws on
    /// content: every defect becomes a failed result with its line number.
    /// </summary>
    public static AuditVerification Verify(Stream log, AuditAnchor? anchor = null)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (anchor is { Lines: 0 } empty && !string.Equals(empty.Hash, GenesisHash, StringComparison.Ordinal))
        {
            return AuditVerification.Failed(1, $"the anchor {empty} names no line and is not the genesis hash");
        }

        var expected = GenesisHash;
        var lineNumber = 0;
        var buffer = new MemoryStream();
        int b;
        while (true)
        {
            b = log.ReadByte();
            if (b < 0)
            {
                break;
            }

            if (b != '\n')
            {
                if (buffer.Length >= MaxLineBytes)
                {
                    return AuditVerification.Failed(lineNumber + 1, "line too long");
                }

                buffer.WriteByte((byte)b);
                continue;
            }

            lineNumber++;
            var line = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
            var problem = CheckLine(line, expected);
            if (problem is not null)
            {
                return AuditVerification.Failed(lineNumber, problem);
            }

            expected = HashLine(line);
            buffer.SetLength(0);
            if (anchor is { } a && a.Lines == lineNumber && !string.Equals(a.Hash, expected, StringComparison.Ordinal))
            {
                return AuditVerification.Failed(lineNumber, $"line differs from the anchor {a}: the log was rewritten up to here");
            }
        }

        if (anchor is { } required && lineNumber < required.Lines)
        {
            return AuditVerification.Failed(lineNumber + 1, $"the log has {lineNumber} complete lines, fewer than the anchor {required}: lines were removed from its end");
        }

        return new AuditVerification(true, lineNumber, null, null, buffer.Length > 0, new AuditAnchor(lineNumber, expected));
    }

    private static string? CheckLine(ReadOnlySpan<byte> line, string expectedPrevHash)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return "not a JSON object";
            }

            if (!reader.Read() || reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals("prev_hash"u8))
            {
                return "first member is not prev_hash";
            }

            if (!reader.Read() || reader.TokenType != JsonTokenType.String)
            {
                return "prev_hash is not a string";
            }

            var actual = reader.GetString();
            if (!string.Equals(actual, expectedPrevHash, StringComparison.Ordinal))
            {
                return "prev_hash does not match the previous line (line edited, deleted, inserted or reordered)";
            }

            reader.Skip();
            var depth = 1;
            while (reader.Read())
            {
                depth = reader.CurrentDepth;
            }

            return depth == 0 && reader.BytesConsumed == line.Length ? null : "truncated or trailing data";
        }
        catch (JsonException)
        {
            return "not valid JSON";
        }
    }
}

/// <summary>
/// Outcome of <see cref="AuditChain.Verify"/>: on failure <see cref="FirstBadLine"/> is 1-based; on success
/// <see cref="Head"/> is the anchor of the last complete line (0 lines: the genesis hash).
/// </summary>
public sealed record AuditVerification(bool Ok, int LinesVerified, int? FirstBadLine, string? Reason, bool TornTail, AuditAnchor? Head = null)
{
    public static AuditVerification Failed(int line, string reason) => new(false, line - 1, line, reason, false);
}

/// <summary>A point of the chain recorded outside the log: <c>N:HASH</c>, the line count and the hash of line N.</summary>
public sealed record AuditAnchor(int Lines, string Hash)
{
    public override string ToString() => $"{Lines}:{Hash}";

    /// <summary>Parses <c>N:HASH</c> (N ≥ 0, HASH 64 lowercase hex characters); null when malformed.</summary>
    public static AuditAnchor? Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 1 || !int.TryParse(text.AsSpan(0, colon), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var lines))
        {
            return null;
        }

        var hash = text[(colon + 1)..];
        return hash.Length == 64 && hash.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f') ? new AuditAnchor(lines, hash) : null;
    }
}
