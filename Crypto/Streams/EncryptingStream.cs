using System.Buffers;
using System.Security.Cryptography;

namespace Pii.Crypto.Streams;

/// <summary>
/// Write-only stream: plaintext written to it leaves as frames on the inner stream (the header is already written).
/// Call <see cref="Complete"/> / <see cref="CompleteAsync"/> to write the final frame. Disposing without completing
/// leaves a message that every reader rejects as truncated, so a failed producer never yields a valid short file.
/// Buffers one frame of plaintext and one frame of ciphertext (pooled), whatever the message size.
/// </summary>
public sealed class EncryptingStream : Stream
{
    private readonly Stream inner;
    private readonly bool leaveOpen;
    private readonly FrameCipher cipher;
    private readonly int frameLength;
    private byte[] plaintext;
    private byte[] frame;
    private int buffered;
    private uint nextSequenceNumber = 1;
    private bool completed;
    private bool disposed;

    internal EncryptingStream(Stream inner, FrameCipher cipher, int frameLength, bool leaveOpen)
    {
        this.inner = inner;
        this.cipher = cipher;
        this.frameLength = frameLength;
        this.leaveOpen = leaveOpen;
        plaintext = ArrayPool<byte>.Shared.Rent(frameLength);
        frame = ArrayPool<byte>.Shared.Rent(FrameCipher.FrameSize(isFinal: true, frameLength));
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => !completed && !disposed;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        EnsureWritable();
        while (!buffer.IsEmpty)
        {
            var frameSize = NextFrame(ref buffer);
            if (frameSize > 0)
            {
                inner.Write(frame, 0, frameSize);
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        EnsureWritable();
        while (!buffer.IsEmpty)
        {
            var frameSize = NextFrame(ref buffer);
            if (frameSize > 0)
            {
                await inner.WriteAsync(frame.AsMemory(0, frameSize), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes the final frame (with the buffered remainder, possibly empty) and flushes the inner stream.</summary>
    public void Complete()
    {
        EnsureWritable();
        inner.Write(frame, 0, EncryptFinalFrame());
        inner.Flush();
    }

    public async Task CompleteAsync(CancellationToken cancellationToken = default)
    {
        EnsureWritable();
        await inner.WriteAsync(frame.AsMemory(0, EncryptFinalFrame()), cancellationToken).ConfigureAwait(false);
        await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !disposed)
        {
            disposed = true;
            ReleaseBuffers();
            cipher.Dispose();
            if (!leaveOpen)
            {
                inner.Dispose();
            }
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (!disposed)
        {
            disposed = true;
            ReleaseBuffers();
            cipher.Dispose();
            if (!leaveOpen)
            {
                await inner.DisposeAsync().ConfigureAwait(false);
            }
        }
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Consumes input into the plaintext buffer, or straight from the input when a whole frame is available and nothing
    /// is buffered; returns the size of a regular frame ready in <c>frame</c>, or 0 when more input is needed.
    /// </summary>
    private int NextFrame(ref ReadOnlySpan<byte> input)
    {
        if (buffered == 0 && input.Length >= frameLength)
        {
            var size = EncryptRegularFrame(input[..frameLength]);
            input = input[frameLength..];
            return size;
        }
        var take = Math.Min(frameLength - buffered, input.Length);
        input[..take].CopyTo(plaintext.AsSpan(buffered));
        buffered += take;
        input = input[take..];
        if (buffered < frameLength)
        {
            return 0;
        }
        buffered = 0;
        return EncryptRegularFrame(plaintext.AsSpan(0, frameLength));
    }

    private int NextFrame(ref ReadOnlyMemory<byte> input)
    {
        var span = input.Span;
        var before = span.Length;
        var size = NextFrame(ref span);
        input = input[(before - span.Length)..];
        return size;
    }

    private int EncryptRegularFrame(ReadOnlySpan<byte> content)
    {
        if (nextSequenceNumber == FrameCipher.EndMarker - 1)
        {
            throw new InvalidOperationException("A message holds at most 2^32-1 frames; use a larger frame length.");
        }
        return cipher.EncryptFrame(nextSequenceNumber++, isFinal: false, content, frame);
    }

    private int EncryptFinalFrame()
    {
        completed = true;
        return cipher.EncryptFrame(nextSequenceNumber, isFinal: true, plaintext.AsSpan(0, buffered), frame);
    }

    private void EnsureWritable()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (completed)
        {
            throw new InvalidOperationException("The message is complete; no more plaintext can be written.");
        }
    }

    private void ReleaseBuffers()
    {
        CryptographicOperations.ZeroMemory(plaintext);
        ArrayPool<byte>.Shared.Return(plaintext);
        ArrayPool<byte>.Shared.Return(frame);
        plaintext = [];
        frame = [];
    }
}
