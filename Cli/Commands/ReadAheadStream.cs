using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace Pii.Cli.Commands;

/// <summary>
/// Read-ahead for the CLI's standard input, the mirror of <see cref="WriteBehindStream"/>: one dedicated thread fills
/// up to <see cref="WriteBehindStream.ChunkCount"/> chunks of <see cref="WriteBehindStream.ChunkSize"/> bytes from the
/// inner stream while the cipher works on the chunk before, so the kernel's copy out of the page cache (system time)
/// overlaps the decryption. A read failure on the thread is rethrown to the consumer once it reaches that point.
/// Only for ciphertext: chunks are not wiped.
/// </summary>
internal sealed class ReadAheadStream : Stream
{
    private readonly Stream _inner;
    private readonly BlockingCollection<Filled> _filled = new(WriteBehindStream.ChunkCount);
    private readonly BlockingCollection<byte[]> _free = new(WriteBehindStream.ChunkCount);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _reader;
    private Filled _current;
    private int _offset;
    private bool _ended;
    private bool _closed;

    /// <summary>A chunk holding <see cref="Length"/> bytes; one without a chunk marks the end (or, with <see cref="Failure"/>, a failure).</summary>
    private readonly record struct Filled(byte[]? Chunk, int Length, ExceptionDispatchInfo? Failure);

    public ReadAheadStream(Stream inner)
    {
        _inner = inner;
        for (var i = 0; i < WriteBehindStream.ChunkCount; i++)
        {
            _free.Add(GC.AllocateUninitializedArray<byte>(WriteBehindStream.ChunkSize));
        }
        _reader = new Thread(ReadAhead) { IsBackground = true, Name = "read-ahead" };
        _reader.Start();
    }

    public override bool CanRead => !_closed;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        while (_offset == _current.Length && !_ended)
        {
            if (_current.Chunk is { } used)
            {
                _free.Add(used);
            }
            _current = _filled.Take();
            _offset = 0;
            // The end of the input or a failure: either way the thread has stopped.
            _ended = _current.Chunk is null;
        }
        _current.Failure?.Throw();
        if (_ended || buffer.IsEmpty)
        {
            return 0;
        }
        var take = Math.Min(buffer.Length, _current.Length - _offset);
        _current.Chunk.AsSpan(_offset, take).CopyTo(buffer);
        _offset += take;
        return take;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>Stops the thread (it may be blocked waiting for a free chunk, never for the consumer) and disposes the inner stream.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_closed)
        {
            _closed = true;
            _stop.Cancel();
            _reader.Join();
            _inner.Dispose();
            _filled.Dispose();
            _free.Dispose();
            _stop.Dispose();
        }
        base.Dispose(disposing);
    }

    private void ReadAhead()
    {
        try
        {
            while (true)
            {
                // One read per chunk: from a pipe this hands on whatever arrived instead of waiting for a full chunk.
                var chunk = _free.Take(_stop.Token);
                var length = _inner.Read(chunk, 0, chunk.Length);
                if (length == 0)
                {
                    _filled.Add(new Filled(null, 0, null), _stop.Token);
                    return;
                }
                _filled.Add(new Filled(chunk, length, null), _stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed by the consumer.
        }
        catch (IOException e)
        {
            TryReport(e);
        }
        catch (ObjectDisposedException e)
        {
            TryReport(e);
        }
    }

    private void TryReport(Exception e)
    {
        try
        {
            _filled.Add(new Filled(null, 0, ExceptionDispatchInfo.Capture(e)), _stop.Token);
        }
        catch (OperationCanceledException)
        {
            // Disposed by the consumer; nobody is left to tell.
        }
    }
}
