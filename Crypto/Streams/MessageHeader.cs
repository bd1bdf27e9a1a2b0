// Message header, AWS Encryption SDK message format version 2 (data-format/message-header.md). Integers big-endian.
//
//   offset  size  field
//   0       1     version                 0x02
//   1       2     algorithm suite ID      0x0478 (AES-256-GCM, HKDF-SHA512, key commitment, no signature)
//   3       32    message ID              CSPRNG; also the HKDF salt
//   35      2     AAD length              length of the next field; 0x0000 for an empty context
//   37      var   AAD                     encryption context serialization (EncryptionContextSerializer)
//   ..      2     EDK count               >= 1
//   ..      var   EDK entries             each: u16 len || provider ID (UTF-8) || u16 len || provider info
//                                         || u16 len || EDK ciphertext
//   ..      1     content type            0x02 = framed
//   ..      4     frame length            plaintext bytes per regular frame, >= 1
//   ..      32    algorithm suite data    the commit key (KeyDerivation)
//   -- end of header body --
//   ..      16    header auth tag         AES-256-GCM(encryption key, IV = 12 zero bytes, plaintext = empty,
//                                         AAD = header body); no IV is stored in v2
using System.Buffers.Binary;
using System.Text;
using Pii.Crypto.Streams.Keyrings;

namespace Pii.Crypto.Streams;

internal sealed class MessageHeader
{
    public const byte Version = 0x02;
    public const ushort AlgorithmSuiteId = 0x0478;
    public const byte FramedContentType = 0x02;
    public const int MessageIdLength = 32;
    public const int AuthTagLength = 16;

    public required byte[] MessageId { get; init; }

    public required IReadOnlyDictionary<string, string> EncryptionContext { get; init; }

    public required IReadOnlyList<EncryptedDataKey> EncryptedDataKeys { get; init; }

    public required int FrameLength { get; init; }

    public required byte[] CommitKey { get; init; }

    /// <summary>The serialized header body (fields up to and including the commit key): the header tag's AAD.</summary>
    public required byte[] Body { get; init; }

    public required byte[] AuthTag { get; init; }

    /// <summary>Header body plus tag: the offset of the first frame.</summary>
    public int Length => Body.Length + AuthTagLength;

    /// <summary>Serializes the header body; throws ArgumentException when a field does not fit its length prefix.</summary>
    public static byte[] SerializeBody(
        ReadOnlySpan<byte> messageId, ReadOnlySpan<byte> serializedContext, IReadOnlyList<EncryptedDataKey> edks, int frameLength,
        ReadOnlySpan<byte> commitKey)
    {
        if (edks.Count is 0 or > ushort.MaxValue)
        {
            throw new ArgumentException("A message needs between 1 and 65 535 encrypted data keys.", nameof(edks));
        }
        var providerIds = new byte[edks.Count][];
        var length = 1 + 2 + MessageIdLength + 2 + serializedContext.Length + 2 + 1 + 4 + KeyDerivation.CommitKeyLength;
        for (var i = 0; i < edks.Count; i++)
        {
            providerIds[i] = Encoding.UTF8.GetBytes(edks[i].ProviderId);
            if (providerIds[i].Length > ushort.MaxValue || edks[i].ProviderInfo.Length > ushort.MaxValue || edks[i].Ciphertext.Length > ushort.MaxValue)
            {
                throw new ArgumentException("An encrypted data key field exceeds 65 535 bytes.", nameof(edks));
            }
            length += 6 + providerIds[i].Length + edks[i].ProviderInfo.Length + edks[i].Ciphertext.Length;
        }

        var body = new byte[length];
        var writer = new SpanWriter(body);
        writer.WriteByte(Version);
        writer.WriteUInt16(AlgorithmSuiteId);
        writer.Write(messageId);
        writer.WriteUInt16((ushort)serializedContext.Length);
        writer.Write(serializedContext);
        writer.WriteUInt16((ushort)edks.Count);
        for (var i = 0; i < edks.Count; i++)
        {
            writer.WriteUInt16((ushort)providerIds[i].Length);
            writer.Write(providerIds[i]);
            writer.WriteUInt16((ushort)edks[i].ProviderInfo.Length);
            writer.Write(edks[i].ProviderInfo.Span);
            writer.WriteUInt16((ushort)edks[i].Ciphertext.Length);
            writer.Write(edks[i].Ciphertext.Span);
        }
        writer.WriteByte(FramedContentType);
        writer.WriteUInt32((uint)frameLength);
        writer.Write(commitKey);
        return body;
    }

    private ref struct SpanWriter(Span<byte> destination)
    {
        private readonly Span<byte> destination = destination;
        private int position;

        public void WriteByte(byte value) => destination[position++] = value;

        public void WriteUInt16(ushort value)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[position..], value);
            position += 2;
        }

        public void WriteUInt32(uint value)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[position..], value);
            position += 4;
        }

        public void Write(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(destination[position..]);
            position += bytes.Length;
        }
    }
}
