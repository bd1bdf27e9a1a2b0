namespace Pii.Crypto.Streams;

/// <summary>
/// Write-only stream: plaintext written to it leaves as frames on the inner stream (the header is already written).
/// Call <see cref="Complete"/> / <see cref="CompleteAsync"/> to write the final frame. Disposing without completing
/// leaves a message that every reader rejects as truncated, so a failed producer never yields a valid short file.
/// Buffers one frame of plaintext and one frame of ciphertext (pooled), whatever the message size.
/// </summary>
public sealed class EncryptingStream : FrameStream
{
    private readonly int frameLength;
    private int buffered;
    private uint nextSequenceNumber = 1;
    private bool completed;

    internal EncryptingStream(Stream inner, FrameCipher cipher, int frameLength, bool leaveOpen)
        : base(inner, cipher, frameLength, FrameCipher.FrameSize(isFinal: true, frameLength), leaveOpen)
    {
        this.frameLength = frameLength;
    }

    public override bool CanRead => false;

    public override bool CanWrite => !completed && !IsDisposed;

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        EnsureWritable();
        while (!buffer.IsEmpty)
        {
            var frameSize = NextFrame(ref buffer);
            if (frameSize > 0)
            {
                Inner.Write(FrameBuffer, 0, frameSize);
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
                await Inner.WriteAsync(FrameBuffer.AsMemory(0, frameSize), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Writes the final frame (with the buffered remainder, possibly empty) and flushes the inner stream.</summary>
    public void Complete()
    {
        EnsureWritable();
        Inner.Write(FrameBuffer, 0, EncryptFinalFrame());
        Inner.Flush();
    }

    public async Task CompleteAsync(CancellationToken cancellationToken = default)
    {
        EnsureWritable();
        await Inner.WriteAsync(FrameBuffer.AsMemory(0, EncryptFinalFrame()), cancellationToken).ConfigureAwait(false);
        await Inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Flush() => Inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>
    /// Consumes input into the plaintext buffer, or straight from the input when a whole frame is available and nothing
    /// is buffered; returns the size of a regular frame ready in <c>FrameBuffer</c>, or 0 when more input is needed.
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
        input[..take].CopyTo(PlaintextBuffer.AsSpan(buffered));
        buffered += take;
        input = input[take..];
        if (buffered < frameLength)
        {
            return 0;
        }
        buffered = 0;
        return EncryptRegularFrame(PlaintextBuffer.AsSpan(0, frameLength));
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
        return Cipher.EncryptFrame(nextSequenceNumber++, isFinal: false, content, FrameBuffer);
    }

    private int EncryptFinalFrame()
    {
        completed = true;
        return Cipher.EncryptFrame(nextSequenceNumber, isFinal: true, PlaintextBuffer.AsSpan(0, buffered), FrameBuffer);
    }

    private void EnsureWritable()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (completed)
        {
            throw new InvalidOperationException("The message is complete; no more plaintext can be written.");
        }
    }
}
