using System.Buffers;
using System.Security.Cryptography;

namespace Pii.Crypto.Streams;

/// <summary>
/// What <see cref="EncryptingStream"/> and <see cref="DecryptingStream"/> share: the inner stream, the message's frame
/// cipher, one pooled frame of plaintext and one of ciphertext, and disposal that wipes the plaintext, returns both
/// buffers, disposes the cipher and (unless leaveOpen) the inner stream. Neither direction can seek.
/// </summary>
public abstract class FrameStream : Stream
{
    private readonly bool leaveOpen;

    private protected FrameStream(Stream inner, FrameCipher cipher, int plaintextSize, int frameSize, bool leaveOpen)
    {
        Inner = inner;
        Cipher = cipher;
        this.leaveOpen = leaveOpen;
        PlaintextBuffer = ArrayPool<byte>.Shared.Rent(plaintextSize);
        FrameBuffer = ArrayPool<byte>.Shared.Rent(frameSize);
    }

    private protected Stream Inner { get; }

    private protected FrameCipher Cipher { get; }

    /// <summary>One frame of plaintext (wiped on disposal).</summary>
    private protected byte[] PlaintextBuffer { get; private set; }

    /// <summary>One frame as it is stored (header fields, ciphertext, tag).</summary>
    private protected byte[] FrameBuffer { get; private set; }

    private protected bool IsDisposed { get; private set; }

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && ReleaseOnce() && !leaveOpen)
        {
            Inner.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (ReleaseOnce() && !leaveOpen)
        {
            await Inner.DisposeAsync().ConfigureAwait(false);
        }
        await base.DisposeAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    private bool ReleaseOnce()
    {
        if (IsDisposed)
        {
            return false;
        }
        IsDisposed = true;
        CryptographicOperations.ZeroMemory(PlaintextBuffer);
        ArrayPool<byte>.Shared.Return(PlaintextBuffer);
        ArrayPool<byte>.Shared.Return(FrameBuffer);
        PlaintextBuffer = [];
        FrameBuffer = [];
        Cipher.Dispose();
        return true;
    }
}
