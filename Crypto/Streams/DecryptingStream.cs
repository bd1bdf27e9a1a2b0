namespace Pii.Crypto.Streams;

/// <summary>
/// Read-only stream of a message's plaintext. Reads one frame at a time from the inner stream and hands out its
/// plaintext only after the frame's tag verified. Reaching the end (Read returns 0) means the whole message was
/// authentic: final frame present and nothing after it; any defect throws a <see cref="CryptoException"/>.
/// </summary>
public sealed class DecryptingStream : FrameStream
{
    private readonly FrameParser parser;
    private int plaintextOffset;
    private int plaintextLength;

    internal DecryptingStream(Stream inner, MessageHeader header, FrameCipher cipher, bool leaveOpen)
        : base(inner, cipher, header.FrameLength, FrameCipher.FrameSize(isFinal: true, header.FrameLength), leaveOpen)
    {
        EncryptionContext = header.EncryptionContext;
        FrameLength = header.FrameLength;
        parser = new FrameParser(inner, header.FrameLength);
    }

    /// <summary>The authenticated encryption context from the header.</summary>
    public IReadOnlyDictionary<string, string> EncryptionContext { get; }

    public int FrameLength { get; }

    public override bool CanRead => !IsDisposed;

    public override bool CanWrite => false;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        while (plaintextOffset == plaintextLength && !parser.Finished && !buffer.IsEmpty)
        {
            DecryptFrame(parser.ReadFrame(FrameBuffer));
        }
        return CopyOut(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        while (plaintextOffset == plaintextLength && !parser.Finished && !buffer.IsEmpty)
        {
            DecryptFrame(await parser.ReadFrameAsync(FrameBuffer, cancellationToken).ConfigureAwait(false));
        }
        return CopyOut(buffer.Span);
    }

    public override void Flush()
    {
    }

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private void DecryptFrame(FrameInfo info)
    {
        Cipher.DecryptFrame(info.SequenceNumber, info.IsFinal, FrameBuffer.AsSpan(0, info.Size), PlaintextBuffer);
        plaintextOffset = 0;
        plaintextLength = info.ContentLength;
    }

    private int CopyOut(Span<byte> buffer)
    {
        var count = Math.Min(buffer.Length, plaintextLength - plaintextOffset);
        PlaintextBuffer.AsSpan(plaintextOffset, count).CopyTo(buffer);
        plaintextOffset += count;
        return count;
    }
}
