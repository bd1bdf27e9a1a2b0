// Bounded parser of the v2 message header laid out in MessageHeader.cs. It pulls exact field lengths from a source
// (a stream, or a ranged reader over object storage), so it never reads past the header, and it refuses headers
// longer than the configured limit or with more EDKs than allowed before reading them.
using System.Buffers.Binary;
using System.Text;
using Pii.Crypto.Streams.Keyrings;

namespace Pii.Crypto.Streams;

/// <summary>Reads exactly <c>destination.Length</c> bytes or throws <see cref="TruncatedException"/>.</summary>
internal delegate ValueTask ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken);

internal sealed class HeaderReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadExactlyAsync source;
    private readonly StreamDecryptionOptions options;
    private byte[] buffer = new byte[512];
    private int length;

    private HeaderReader(ReadExactlyAsync source, StreamDecryptionOptions options)
    {
        this.source = source;
        this.options = options;
    }

    public static ValueTask<MessageHeader> ReadAsync(ReadExactlyAsync source, StreamDecryptionOptions options, CancellationToken cancellationToken) =>
        new HeaderReader(source, options).ReadAsync(cancellationToken);

    private async ValueTask<MessageHeader> ReadAsync(CancellationToken cancellationToken)
    {
        var version = (await TakeAsync(1, cancellationToken).ConfigureAwait(false)).Span[0];
        if (version != MessageHeader.Version)
        {
            throw new UnsupportedVersionException($"Message format version {version} is not supported (only 2).");
        }
        var suite = BinaryPrimitives.ReadUInt16BigEndian((await TakeAsync(2, cancellationToken).ConfigureAwait(false)).Span);
        if (suite != MessageHeader.AlgorithmSuiteId)
        {
            throw new UnsupportedVersionException($"Algorithm suite 0x{suite:X4} is not supported (only 0x0478).");
        }
        var messageId = (await TakeAsync(MessageHeader.MessageIdLength, cancellationToken).ConfigureAwait(false)).ToArray();

        var contextBytes = await TakeLengthPrefixedAsync(cancellationToken).ConfigureAwait(false);
        var context = EncryptionContextSerializer.Deserialize(contextBytes.Span);

        int edkCount = BinaryPrimitives.ReadUInt16BigEndian((await TakeAsync(2, cancellationToken).ConfigureAwait(false)).Span);
        if (edkCount == 0)
        {
            throw new MalformedInputException("The header holds no encrypted data key.");
        }
        if (edkCount > options.MaxEncryptedDataKeys)
        {
            throw new MalformedInputException($"The header holds {edkCount} encrypted data keys; the limit is {options.MaxEncryptedDataKeys}.");
        }
        var edks = new EncryptedDataKey[edkCount];
        for (var i = 0; i < edkCount; i++)
        {
            var providerId = DecodeProviderId((await TakeLengthPrefixedAsync(cancellationToken).ConfigureAwait(false)).Span);
            var providerInfo = (await TakeLengthPrefixedAsync(cancellationToken).ConfigureAwait(false)).ToArray();
            var ciphertext = (await TakeLengthPrefixedAsync(cancellationToken).ConfigureAwait(false)).ToArray();
            edks[i] = new EncryptedDataKey(providerId, providerInfo, ciphertext);
        }

        var contentType = (await TakeAsync(1, cancellationToken).ConfigureAwait(false)).Span[0];
        if (contentType != MessageHeader.FramedContentType)
        {
            throw new UnsupportedVersionException($"Content type {contentType} is not supported (only 2, framed).");
        }
        var frameLength = BinaryPrimitives.ReadUInt32BigEndian((await TakeAsync(4, cancellationToken).ConfigureAwait(false)).Span);
        if (frameLength == 0)
        {
            throw new MalformedInputException("The frame length is 0.");
        }
        if (frameLength > (uint)options.MaxFrameLength)
        {
            throw new MalformedInputException($"The frame length {frameLength} exceeds the limit of {options.MaxFrameLength} bytes.");
        }
        var commitKey = (await TakeAsync(KeyDerivation.CommitKeyLength, cancellationToken).ConfigureAwait(false)).ToArray();
        var body = buffer.AsSpan(0, length).ToArray();
        var tag = (await TakeAsync(MessageHeader.AuthTagLength, cancellationToken).ConfigureAwait(false)).ToArray();

        return new MessageHeader
        {
            MessageId = messageId,
            EncryptionContext = context,
            EncryptedDataKeys = edks,
            FrameLength = (int)frameLength,
            CommitKey = commitKey,
            Body = body,
            AuthTag = tag,
        };
    }

    private async ValueTask<ReadOnlyMemory<byte>> TakeLengthPrefixedAsync(CancellationToken cancellationToken)
    {
        int fieldLength = BinaryPrimitives.ReadUInt16BigEndian((await TakeAsync(2, cancellationToken).ConfigureAwait(false)).Span);
        return await TakeAsync(fieldLength, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Appends the next <paramref name="count"/> header bytes to the buffer and returns them.</summary>
    private async ValueTask<ReadOnlyMemory<byte>> TakeAsync(int count, CancellationToken cancellationToken)
    {
        if (length + count > options.MaxHeaderLength)
        {
            throw new MalformedInputException($"The header exceeds the limit of {options.MaxHeaderLength} bytes.");
        }
        if (length + count > buffer.Length)
        {
            Array.Resize(ref buffer, Math.Min(options.MaxHeaderLength, Math.Max(buffer.Length * 2, length + count)));
        }
        var field = buffer.AsMemory(length, count);
        await source(field, cancellationToken).ConfigureAwait(false);
        length += count;
        return field;
    }

    private static string DecodeProviderId(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new MalformedInputException("A provider ID is not valid UTF-8.");
        }
    }
}
