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
/// tail; it makes every partial edit evident.
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

    /// <summary>Verifies a whole log. Never throws on content: every defect becomes a failed result with its line number.</summary>
    public static AuditVerification Verify(Stream log)
    {
        ArgumentNullException.ThrowIfNull(log);
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
        }

        return new AuditVerification(true, lineNumber, null, null, buffer.Length > 0);
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

/// <summary>Outcome of <see cref="AuditChain.Verify"/>: on failure <see cref="FirstBadLine"/> is 1-based.</summary>
public sealed record AuditVerification(bool Ok, int LinesVerified, int? FirstBadLine, string? Reason, bool TornTail)
{
    public static AuditVerification Failed(int line, string reason) => new(false, line - 1, line, reason, false);
}
