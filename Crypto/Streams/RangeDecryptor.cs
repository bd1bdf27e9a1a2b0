using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using Pii.Crypto.Streams.Keyrings;

namespace Pii.Crypto.Streams;

/// <summary>
/// Fills <paramref name="destination"/> with the stored ciphertext starting at <paramref name="offset"/> (for example
/// an S3 ranged GET) and returns how many bytes it wrote; fewer than <c>destination.Length</c> mean the stored object
/// is shorter than claimed. The caller owns the buffer, so fetches reuse pooled memory instead of allocating per read.
/// </summary>
public delegate ValueTask<int> CiphertextRangeReader(long offset, Memory<byte> destination, CancellationToken cancellationToken);

/// <summary>
/// Random access to a stored message: reads plaintext [start, end) by fetching and decrypting only the frames that
/// cover it (layout math in <see cref="StreamLayout"/>). Opening authenticates the header and the final frame, so the
/// total length is known to be genuine and a message cut at a frame boundary is refused. Each returned frame's
/// plaintext is released only after its tag verified. <see cref="ReadAsync"/> may be called concurrently.
/// </summary>
public sealed class RangeDecryptor : IDisposable
{
    private const int HeaderFetchSize = 4096;
    private const int MaxFetchSize = 1024 * 1024;

    private readonly CiphertextRangeReader read;
    private readonly FrameCipher cipher;
    private readonly byte[] finalFramePlaintext;

    private RangeDecryptor(
        CiphertextRangeReader read, MessageHeader header, FrameCipher cipher, StreamLayout layout, byte[] finalFramePlaintext)
    {
        this.read = read;
        this.cipher = cipher;
        this.finalFramePlaintext = finalFramePlaintext;
        Layout = layout;
        EncryptionContext = header.EncryptionContext;
    }

    public StreamLayout Layout { get; }

    public long PlaintextLength => Layout.PlaintextLength;

    /// <summary>The authenticated encryption context from the header.</summary>
    public IReadOnlyDictionary<string, string> EncryptionContext { get; }

    /// <summary>Reads and authenticates the header (a few KiB) and the final frame of a stored message.</summary>
    public static async Task<RangeDecryptor> OpenAsync(
        CiphertextRangeReader read, long ciphertextLength, IKeyring keyring, StreamDecryptionOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(keyring);
        ArgumentOutOfRangeException.ThrowIfNegative(ciphertextLength);
        options ??= StreamDecryptionOptions.Default;
        options.Validate();

        var headerSource = new HeaderRangeSource(read, ciphertextLength);
        var (header, cipher) = await MessageCrypto.OpenAsync(headerSource.ReadExactlyAsync, keyring, options, cancellationToken).ConfigureAwait(false);
        try
        {
            var layout = StreamLayout.FromCiphertextLength(header.Length, header.FrameLength, ciphertextLength);
            var finalFrameSize = FrameCipher.FrameSize(isFinal: true, layout.FinalFrameContentLength);
            var fetched = ArrayPool<byte>.Shared.Rent(finalFrameSize);
            try
            {
                var finalFrame = fetched.AsMemory(0, finalFrameSize);
                await FetchAsync(read, layout.FinalFrameOffset, finalFrame, cancellationToken).ConfigureAwait(false);
                var finalSequenceNumber = (uint)(layout.RegularFrameCount + 1);
                if (BinaryPrimitives.ReadUInt32BigEndian(finalFrame.Span) != FrameCipher.EndMarker)
                {
                    throw new TruncatedException("The message has no final frame where its length puts it (truncated or extended).");
                }
                if (FrameParser.CheckFinalFrame(finalFrame.Span, finalSequenceNumber, header.FrameLength) != layout.FinalFrameContentLength)
                {
                    throw new MalformedInputException("The final frame's content length does not match the message length.");
                }
                var finalPlaintext = new byte[layout.FinalFrameContentLength];
                cipher.DecryptFrame(finalSequenceNumber, isFinal: true, finalFrame.Span, finalPlaintext);
                return new RangeDecryptor(read, header, cipher, layout, finalPlaintext);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(fetched);
            }
        }
        catch
        {
            cipher.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes plaintext [<paramref name="start"/>, <paramref name="end"/>) to <paramref name="destination"/>, fetching
    /// at most about 1 MiB of ciphertext at a time into one pooled buffer (ciphertext needs no wiping).
    /// </summary>
    public async Task ReadAsync(long start, long end, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var (firstFrame, lastFrame, _, _) = Layout.CiphertextRangeFor(start, end);
        var frameLength = Layout.FrameLength;
        var regularFrameSize = frameLength + FrameCipher.RegularFrameOverhead;
        var framesPerFetch = Math.Max(1, MaxFetchSize / regularFrameSize);
        var regularFramesInRange = Math.Min(lastFrame, Layout.RegularFrameCount - 1) - firstFrame + 1;
        var fetched = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(regularFramesInRange, 0, framesPerFetch) * regularFrameSize);
        var plaintext = ArrayPool<byte>.Shared.Rent(frameLength);
        try
        {
            var frame = firstFrame;
            while (frame <= lastFrame)
            {
                if (frame == Layout.RegularFrameCount)
                {
                    await WriteSliceAsync(finalFramePlaintext, frame, start, end, destination, cancellationToken).ConfigureAwait(false);
                    break;
                }
                var count = (int)Math.Min(framesPerFetch, Math.Min(lastFrame, Layout.RegularFrameCount - 1) - frame + 1);
                var frames = fetched.AsMemory(0, count * regularFrameSize);
                await FetchAsync(read, Layout.FrameOffset(frame), frames, cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < count; i++, frame++)
                {
                    var sequenceNumber = (uint)(frame + 1);
                    var encrypted = frames.Slice(i * regularFrameSize, regularFrameSize);
                    FrameParser.CheckRegularFrame(encrypted.Span, sequenceNumber);
                    cipher.DecryptFrame(sequenceNumber, isFinal: false, encrypted.Span, plaintext);
                    await WriteSliceAsync(plaintext.AsMemory(0, frameLength), frame, start, end, destination, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
            ArrayPool<byte>.Shared.Return(plaintext);
            ArrayPool<byte>.Shared.Return(fetched);
        }
    }

    public void Dispose()
    {
        cipher.Dispose();
        CryptographicOperations.ZeroMemory(finalFramePlaintext);
    }

    private ValueTask WriteSliceAsync(ReadOnlyMemory<byte> framePlaintext, long frame, long start, long end, Stream destination, CancellationToken cancellationToken)
    {
        var frameStart = frame * Layout.FrameLength;
        var from = (int)(Math.Max(start, frameStart) - frameStart);
        var to = (int)(Math.Min(end, frameStart + framePlaintext.Length) - frameStart);
        return destination.WriteAsync(framePlaintext[from..to], cancellationToken);
    }

    private static async ValueTask FetchAsync(CiphertextRangeReader read, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        if (await read(offset, destination, cancellationToken).ConfigureAwait(false) != destination.Length)
        {
            throw new TruncatedException("The stored message is shorter than its stated length.");
        }
    }

    /// <summary>Serves the header parser's small exact reads from a few ranged fetches of at least 4 KiB.</summary>
    private sealed class HeaderRangeSource(CiphertextRangeReader read, long ciphertextLength)
    {
        private Memory<byte> chunk;
        private long chunkOffset;
        private long position;

        public async ValueTask ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
        {
            while (!destination.IsEmpty)
            {
                if (position == chunkOffset + chunk.Length)
                {
                    var count = (int)Math.Min(Math.Max(HeaderFetchSize, destination.Length), ciphertextLength - position);
                    if (count <= 0)
                    {
                        throw new TruncatedException("The message ends inside its header.");
                    }
                    chunk = new byte[count];
                    await FetchAsync(read, position, chunk, cancellationToken).ConfigureAwait(false);
                    chunkOffset = position;
                }
                var available = chunk[(int)(position - chunkOffset)..];
                var take = Math.Min(available.Length, destination.Length);
                available[..take].CopyTo(destination);
                destination = destination[take..];
                position += take;
            }
        }
    }
}
