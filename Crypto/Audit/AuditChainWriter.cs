namespace Pii.Crypto.Audit;

/// <summary>
/// Appends lines to a chained audit log (format in <see cref="AuditChain"/>). On open it resumes the chain from
/// the last complete line and cuts off a torn tail left by a crash. Each append is one write followed by a
/// flush to the OS, and throws if the bytes could not be written, so callers can fail closed.
/// Thread-safe: appends are serialized because each line depends on the previous one.
/// </summary>
public sealed class AuditChainWriter : IDisposable
{
    private readonly FileStream _file;
    private readonly Lock _lock = new();
    private string _prevHash;

    public AuditChainWriter(string path)
    {
        _file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
        _prevHash = AuditChain.GenesisHash;
        if (_file.CanSeek && _file.Length > 0)
        {
            var (completeLength, lastLineHash) = FindLastCompleteLine(_file);
            _file.SetLength(completeLength);
            _prevHash = lastLineHash ?? AuditChain.GenesisHash;
        }

        if (_file.CanSeek)
        {
            _file.Seek(0, SeekOrigin.End);
        }
    }

    /// <summary>Appends one entry (a serialized JSON object) and returns the line's own hash.</summary>
    public string Append(ReadOnlySpan<byte> jsonObject)
    {
        lock (_lock)
        {
            var line = AuditChain.ComposeLine(_prevHash, jsonObject, trailingNewline: true);
            _file.Write(line);
            _file.Flush();
            _prevHash = AuditChain.HashLine(line.AsSpan(0, line.Length - 1));
            return _prevHash;
        }
    }

    public void Dispose() => _file.Dispose();

    /// <summary>Scans backwards (bounded chunks, never the whole file) for the last two LFs.</summary>
    private static (long CompleteLength, string? LastLineHash) FindLastCompleteLine(FileStream file)
    {
        var lastNewline = FindNewlineBefore(file, file.Length);
        if (lastNewline < 0)
        {
            return (0, null);
        }

        var lineStart = FindNewlineBefore(file, lastNewline) + 1;
        var lineLength = lastNewline - lineStart;
        if (lineLength > AuditChain.MaxLineBytes)
        {
            throw new InvalidDataException("The audit log's last line is longer than the format allows.");
        }

        var line = new byte[lineLength];
        file.Seek(lineStart, SeekOrigin.Begin);
        file.ReadExactly(line);
        return (lastNewline + 1, AuditChain.HashLine(line));
    }

    private static long FindNewlineBefore(FileStream file, long end)
    {
        var chunk = new byte[64 * 1024];
        while (end > 0)
        {
            var start = Math.Max(0, end - chunk.Length);
            var count = (int)(end - start);
            file.Seek(start, SeekOrigin.Begin);
            file.ReadExactly(chunk, 0, count);
            var index = Array.LastIndexOf(chunk, (byte)'\n', count - 1, count);
            if (index >= 0)
            {
                return start + index;
            }

            end = start;
        }

        return -1;
    }
}
