using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;

namespace Pii.Cli.Commands;

/// <summary>
/// Write-behind for the CLI's standard output: writes are gathered into <see cref="ChunkCount"/> chunks of
/// <see cref="ChunkSize"/> bytes, and one dedicated thread hands full chunks to the inner stream. Writing a file is
/// mostly the kernel copying pages (system time), so the cipher works on the next chunk meanwhile instead of waiting;
/// at most <c>ChunkCount × ChunkSize</c> bytes are held. A chunk is wiped once written (decrypt output is plaintext).
/// A write failure on the thread is rethrown to the producer at its next write, flush or <see cref="Complete"/>.
/// </summary>
internal sealed class WriteBehindStream : Stream
{
    internal const int ChunkSize = 1 << 20;
    internal const int ChunkCount = 4;

    private readonly Stream _inner;
    private readonly BlockingCollection<Pending> _queued = new(ChunkCount);
    private readonly BlockingCollection<byte[]> _free = new(ChunkCount);
    private readonly Thread _writer;
    private byte[] _current;
    private int _filled;
    private volatile ExceptionDispatchInfo? _failure;
    private bool _closed;

    /// <summary>A chunk to write, or (with <see cref="Flushed"/>) a request to flush the inner stream and signal.</summary>
    private readonly record struct Pending(byte[]? Chunk, int Length, ManualResetEventSlim? Flushed);

    public WriteBehindStream(Stream inner)
    {
        _inner = inner;
        for (var i = 0; i < ChunkCount; i++)
        {
            _free.Add(GC.AllocateUninitializedArray<byte>(ChunkSize));
        }
        _current = _free.Take();
        _writer = new Thread(WriteQueued) { IsBackground = true, Name = "write-behind" };
        _writer.Start();
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => !_closed;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        _failure?.Throw();
        while (!buffer.IsEmpty)
        {
            var take = Math.Min(ChunkSize - _filled, buffer.Length);
            buffer[..take].CopyTo(_current.AsSpan(_filled));
            _filled += take;
            buffer = buffer[take..];
            if (_filled == ChunkSize)
            {
                Submit();
            }
        }
    }

    /// <summary>Queues what is gathered, then waits until the thread has written it and flushed the inner stream.</summary>
    public override void Flush()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        Submit();
        using var flushed = new ManualResetEventSlim();
        _queued.Add(new Pending(null, 0, flushed));
        flushed.Wait();
        _failure?.Throw();
    }

    /// <summary>Writes and flushes everything, stops the thread, and throws the first write failure if there was one.</summary>
    public void Complete()
    {
        Flush();
        Close();
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>
    /// Stops the thread after what is already queued and disposes the inner stream; data not yet submitted is dropped
    /// (use <see cref="Complete"/>).
    /// </summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing && !_closed)
        {
            _closed = true;
            _queued.CompleteAdding();
            _writer.Join();
            _inner.Dispose();
            CryptographicOperations.ZeroMemory(_current);
            _queued.Dispose();
            _free.Dispose();
        }
        base.Dispose(disposing);
    }

    private void Submit()
    {
        if (_filled == 0)
        {
            return;
        }
        _queued.Add(new Pending(_current, _filled, null));
        _current = _free.Take();
        _filled = 0;
        _failure?.Throw();
    }

    private void WriteQueued()
    {
        foreach (var pending in _queued.GetConsumingEnumerable())
        {
            try
            {
                if (_failure is null)
                {
                    if (pending.Chunk is { } chunk)
                    {
                        _inner.Write(chunk, 0, pending.Length);
                    }
                    else
                    {
                        _inner.Flush();
                    }
                }
            }
            catch (IOException e)
            {
                _failure = ExceptionDispatchInfo.Capture(e);
            }
            catch (ObjectDisposedException e)
            {
                _failure = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                // After a failure the thread keeps recycling chunks so that the producer never blocks; it throws instead.
                if (pending.Chunk is { } chunk)
                {
                    CryptographicOperations.ZeroMemory(chunk.AsSpan(0, pending.Length));
                    _free.Add(chunk);
                }
                pending.Flushed?.Set();
            }
        }
    }
}
