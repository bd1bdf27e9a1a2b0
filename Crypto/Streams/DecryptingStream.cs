using System.Buffers;
using System.Security.Cryptography;

namespace Pii.Crypto.Streams;

/// <summary>
/// Read-only stream of a message's plaintext. Reads one frame at a time from the inner stream and hands out its
/// plaintext only after the frame's tag verified. Reaching the end (Read returns 0) means the whole message was
/// authentic: final frame present and nothing after it; any defect throws a <see cref="CryptoException"/>.
/// </summary>
public sealed class DecryptingStream : Stream
{
    private readonly Stream inner;
    private readonly bool leaveOpen;
    private readonly FrameCipher cipher;
    private readonly FrameParser parser;
    private byte[] frame;
    private byte[] plaintext;
    private int plaintextOffset;
    private int plaintextLength;
    private bool disposed;

    internal DecryptingStream(Stream inner, MessageHeader header, FrameCipher cipher, bool leaveOpen)
    {
        this.inner = inner;
        this.cipher = cipher;
        this.leaveOpen = leaveOpen;
        EncryptionContext = header.EncryptionContext;
        FrameLength = header.FrameLength;
        parser = new FrameParser(inner, header.FrameLength);
        frame = ArrayPool<byte>.Shared.Rent(parser.MaxFrameSize);
        plaintext = ArrayPool<byte>.Shared.Rent(header.FrameLength);
    }

    /// <summary>The authenticated encryption context from the header.</summary>
    public IReadOnlyDictionary<string, string> EncryptionContext { get; }

    public int FrameLength { get; }

    public override bool CanRead => !disposed;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        while (plaintextOffset == plaintextLength && !parser.Finished && !buffer.IsEmpty)
        {
            DecryptFrame(parser.ReadFrame(frame));
        }
        return CopyOut(buffer);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        while (plaintextOffset == plaintextLength && !parser.Finished && !buffer.IsEmpty)
        {
            DecryptFrame(await parser.ReadFrameAsync(frame, cancellationToken).ConfigureAwait(false));
        }
        return CopyOut(buffer.Span);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

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

    private void DecryptFrame(FrameInfo info)
    {
        cipher.DecryptFrame(info.SequenceNumber, info.IsFinal, frame.AsSpan(0, info.Size), plaintext);
        plaintextOffset = 0;
        plaintextLength = info.ContentLength;
    }

    private int CopyOut(Span<byte> buffer)
    {
        var count = Math.Min(buffer.Length, plaintextLength - plaintextOffset);
        plaintext.AsSpan(plaintextOffset, count).CopyTo(buffer);
        plaintextOffset += count;
        return count;
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
