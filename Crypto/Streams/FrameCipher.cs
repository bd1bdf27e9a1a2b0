// Frames of the message body (data-format/message-body.md, message-body-aad.md). Integers big-endian.
//
//   regular frame (all but the last):              final frame (exactly one, last):
//     u32 sequence number (1, 2, …)                  u32 end marker 0xFFFFFFFF
//     12  IV = 0^8 || u32 sequence number            u32 sequence number (= number of frames)
//     F   encrypted content (F = frame length)       12  IV = 0^8 || u32 sequence number
//     16  auth tag                                   u32 content length (0 … F)
//                                                    var encrypted content
//                                                    16  auth tag
//   overhead: 32 bytes                             overhead: 40 bytes
//
// Each frame is AES-256-GCM under the derived encryption key with the IV above and AAD =
//   message ID (32) || "AWSKMSEncryptionClient Frame" or "AWSKMSEncryptionClient Final Frame" (ASCII, no length)
//   || u32 sequence number || u64 plaintext length of this frame.
// The writer emits an empty final frame when the plaintext is an exact multiple of F (as the JS and Python SDKs do);
// the reader also accepts a full final frame.
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Pii.Crypto.Streams;

internal sealed class FrameCipher : IDisposable
{
    public const int IvLength = 12;
    public const int TagLength = 16;
    public const uint EndMarker = 0xFFFFFFFF;

    /// <summary>Sequence number + IV + tag.</summary>
    public const int RegularFrameOverhead = 4 + IvLength + TagLength;

    /// <summary>End marker + sequence number + IV + content length + tag.</summary>
    public const int FinalFrameOverhead = 4 + 4 + IvLength + 4 + TagLength;

    /// <summary>Offset of the encrypted content inside a regular frame.</summary>
    public const int RegularContentOffset = 4 + IvLength;

    /// <summary>Offset of the encrypted content inside a final frame.</summary>
    public const int FinalContentOffset = 4 + 4 + IvLength + 4;

    /// <summary>Message ID + the longer label + sequence number + u64 content length.</summary>
    private const int BodyAadMaxLength = 32 + 34 + 4 + 8;

    private static ReadOnlySpan<byte> RegularFrameLabel => "AWSKMSEncryptionClient Frame"u8;

    private static ReadOnlySpan<byte> FinalFrameLabel => "AWSKMSEncryptionClient Final Frame"u8;

    private readonly byte[] encryptionKey;
    private readonly byte[] messageId;
    private readonly ConcurrentBag<AesGcm> ciphers = [];

    /// <summary>Takes ownership of <paramref name="encryptionKey"/> (zeroed on dispose).</summary>
    public FrameCipher(byte[] encryptionKey, byte[] messageId)
    {
        this.encryptionKey = encryptionKey;
        this.messageId = messageId;
    }

    public static int FrameSize(bool isFinal, int contentLength) =>
        contentLength + (isFinal ? FinalFrameOverhead : RegularFrameOverhead);

    /// <summary>Writes a whole frame (fields, ciphertext, tag) for <paramref name="plaintext"/>; returns its size.</summary>
    public int EncryptFrame(uint sequenceNumber, bool isFinal, ReadOnlySpan<byte> plaintext, Span<byte> frame)
    {
        var size = FrameSize(isFinal, plaintext.Length);
        frame = frame[..size];
        int contentOffset;
        if (isFinal)
        {
            BinaryPrimitives.WriteUInt32BigEndian(frame, EndMarker);
            BinaryPrimitives.WriteUInt32BigEndian(frame[4..], sequenceNumber);
            WriteIv(frame.Slice(8, IvLength), sequenceNumber);
            BinaryPrimitives.WriteUInt32BigEndian(frame[(8 + IvLength)..], (uint)plaintext.Length);
            contentOffset = FinalContentOffset;
        }
        else
        {
            BinaryPrimitives.WriteUInt32BigEndian(frame, sequenceNumber);
            WriteIv(frame.Slice(4, IvLength), sequenceNumber);
            contentOffset = RegularContentOffset;
        }
        Span<byte> aad = stackalloc byte[BodyAadMaxLength];
        aad = BuildBodyAad(aad, sequenceNumber, isFinal, plaintext.Length);
        var cipher = Rent();
        try
        {
            cipher.Encrypt(
                frame.Slice(IvOffset(isFinal), IvLength), plaintext, frame.Slice(contentOffset, plaintext.Length),
                frame[(contentOffset + plaintext.Length)..], aad);
        }
        finally
        {
            ciphers.Add(cipher);
        }
        return size;
    }

    /// <summary>
    /// Decrypts the content of a frame whose fields <see cref="FrameParser"/> already checked. Writes to
    /// <paramref name="plaintext"/> only when the tag verifies (AesGcm clears the output on failure).
    /// </summary>
    public void DecryptFrame(uint sequenceNumber, bool isFinal, ReadOnlySpan<byte> frame, Span<byte> plaintext)
    {
        var contentOffset = isFinal ? FinalContentOffset : RegularContentOffset;
        var contentLength = frame.Length - contentOffset - TagLength;
        Span<byte> aad = stackalloc byte[BodyAadMaxLength];
        aad = BuildBodyAad(aad, sequenceNumber, isFinal, contentLength);
        var cipher = Rent();
        try
        {
            cipher.Decrypt(
                frame.Slice(IvOffset(isFinal), IvLength), frame.Slice(contentOffset, contentLength),
                frame.Slice(contentOffset + contentLength, TagLength), plaintext[..contentLength], aad);
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new TamperedException($"Frame {sequenceNumber} failed authentication.");
        }
        finally
        {
            ciphers.Add(cipher);
        }
    }

    /// <summary>Header tag: AES-GCM over an empty plaintext, IV = 12 zero bytes, AAD = the header body.</summary>
    public void ComputeHeaderTag(ReadOnlySpan<byte> headerBody, Span<byte> tag)
    {
        Span<byte> zeroIv = stackalloc byte[IvLength];
        zeroIv.Clear();
        var cipher = Rent();
        try
        {
            cipher.Encrypt(zeroIv, [], [], tag, headerBody);
        }
        finally
        {
            ciphers.Add(cipher);
        }
    }

    public void VerifyHeaderTag(ReadOnlySpan<byte> headerBody, ReadOnlySpan<byte> tag)
    {
        Span<byte> expected = stackalloc byte[TagLength];
        ComputeHeaderTag(headerBody, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, tag))
        {
            throw new TamperedException("The message header failed authentication.");
        }
    }

    public static bool IvMatches(ReadOnlySpan<byte> iv, uint sequenceNumber)
    {
        Span<byte> expected = stackalloc byte[IvLength];
        WriteIv(expected, sequenceNumber);
        return iv.SequenceEqual(expected);
    }

    public void Dispose()
    {
        while (ciphers.TryTake(out var cipher))
        {
            cipher.Dispose();
        }
        CryptographicOperations.ZeroMemory(encryptionKey);
    }

    private static int IvOffset(bool isFinal) => isFinal ? 8 : 4;

    private static void WriteIv(Span<byte> iv, uint sequenceNumber)
    {
        iv[..8].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(iv[8..], sequenceNumber);
    }

    private Span<byte> BuildBodyAad(Span<byte> aad, uint sequenceNumber, bool isFinal, int contentLength)
    {
        var label = isFinal ? FinalFrameLabel : RegularFrameLabel;
        messageId.CopyTo(aad);
        label.CopyTo(aad[32..]);
        BinaryPrimitives.WriteUInt32BigEndian(aad[(32 + label.Length)..], sequenceNumber);
        BinaryPrimitives.WriteUInt64BigEndian(aad[(36 + label.Length)..], (ulong)contentLength);
        return aad[..(44 + label.Length)];
    }

    // AesGcm keeps native state per instance and is not safe for concurrent use, so parallel pipelines rent one each.
    private AesGcm Rent() => ciphers.TryTake(out var cipher) ? cipher : new AesGcm(encryptionKey, TagLength);
}
