// Reads the frames laid out in FrameCipher.cs from a stream, one at a time, and enforces the body's structure
// before any decryption: sequence numbers 1, 2, … without gaps (rejects reordered, dropped or duplicated frames),
// IV = 0^8 || sequence number, final content length ≤ frame length, a final frame present (a stream that ends after
// a regular frame is truncated) and no byte after it. Every read is of an exact, bounded length.
using System.Buffers.Binary;

namespace Pii.Crypto.Streams;

/// <summary>Where one frame sits in a frame buffer: the whole frame is <c>buffer[..Size]</c>.</summary>
internal readonly record struct FrameInfo(uint SequenceNumber, bool IsFinal, int ContentLength)
{
    public int Size => FrameCipher.FrameSize(IsFinal, ContentLength);
}

internal sealed class FrameParser(Stream source, int frameLength)
{
    private uint expectedSequenceNumber = 1;

    public bool Finished { get; private set; }

    /// <summary>Size a frame buffer must have.</summary>
    public int MaxFrameSize => FrameCipher.FrameSize(isFinal: true, frameLength);

    public FrameInfo ReadFrame(Span<byte> buffer)
    {
        EnsureNotFinished();
        ReadExactly(buffer[..4], atFrameStart: true);
        if (BinaryPrimitives.ReadUInt32BigEndian(buffer) == FrameCipher.EndMarker)
        {
            ReadExactly(buffer[4..FrameCipher.FinalContentOffset], atFrameStart: false);
            var contentLength = CheckFinalFields(buffer);
            ReadExactly(buffer[FrameCipher.FinalContentOffset..(FrameCipher.FinalContentOffset + contentLength + FrameCipher.TagLength)], atFrameStart: false);
            RejectTrailingBytes(source.Read(buffer[..1]));
            return Finish(contentLength);
        }
        ReadExactly(buffer[4..FrameCipher.FrameSize(isFinal: false, frameLength)], atFrameStart: false);
        return CheckRegularFields(buffer);
    }

    public async ValueTask<FrameInfo> ReadFrameAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        EnsureNotFinished();
        await ReadExactlyAsync(buffer[..4], atFrameStart: true, cancellationToken).ConfigureAwait(false);
        if (BinaryPrimitives.ReadUInt32BigEndian(buffer.Span) == FrameCipher.EndMarker)
        {
            await ReadExactlyAsync(buffer[4..FrameCipher.FinalContentOffset], atFrameStart: false, cancellationToken).ConfigureAwait(false);
            var contentLength = CheckFinalFields(buffer.Span);
            await ReadExactlyAsync(
                buffer[FrameCipher.FinalContentOffset..(FrameCipher.FinalContentOffset + contentLength + FrameCipher.TagLength)], atFrameStart: false,
                cancellationToken).ConfigureAwait(false);
            RejectTrailingBytes(await source.ReadAsync(buffer[..1], cancellationToken).ConfigureAwait(false));
            return Finish(contentLength);
        }
        await ReadExactlyAsync(buffer[4..FrameCipher.FrameSize(isFinal: false, frameLength)], atFrameStart: false, cancellationToken).ConfigureAwait(false);
        return CheckRegularFields(buffer.Span);
    }

    /// <summary>Checks a regular frame's sequence number and IV (also used by random access on fetched frames).</summary>
    public static void CheckRegularFrame(ReadOnlySpan<byte> frame, uint expectedSequenceNumber)
    {
        var sequenceNumber = BinaryPrimitives.ReadUInt32BigEndian(frame);
        if (sequenceNumber != expectedSequenceNumber)
        {
            throw new TamperedException($"Frame {expectedSequenceNumber} carries sequence number {sequenceNumber} (reordered, dropped or duplicated frames).");
        }
        if (!FrameCipher.IvMatches(frame.Slice(4, FrameCipher.IvLength), sequenceNumber))
        {
            throw new TamperedException($"Frame {sequenceNumber} has an IV that does not match its sequence number.");
        }
    }

    /// <summary>Checks a final frame's fields (marker already seen); returns its content length.</summary>
    public static int CheckFinalFrame(ReadOnlySpan<byte> frame, uint expectedSequenceNumber, int frameLength)
    {
        var sequenceNumber = BinaryPrimitives.ReadUInt32BigEndian(frame[4..]);
        if (sequenceNumber != expectedSequenceNumber)
        {
            throw new TamperedException($"The final frame carries sequence number {sequenceNumber}, expected {expectedSequenceNumber}.");
        }
        if (!FrameCipher.IvMatches(frame.Slice(8, FrameCipher.IvLength), sequenceNumber))
        {
            throw new TamperedException("The final frame has an IV that does not match its sequence number.");
        }
        var contentLength = BinaryPrimitives.ReadUInt32BigEndian(frame[(8 + FrameCipher.IvLength)..]);
        if (contentLength > (uint)frameLength)
        {
            throw new MalformedInputException($"The final frame claims {contentLength} bytes, more than the frame length {frameLength}.");
        }
        return (int)contentLength;
    }

    private int CheckFinalFields(ReadOnlySpan<byte> buffer) => CheckFinalFrame(buffer, expectedSequenceNumber, frameLength);

    private FrameInfo CheckRegularFields(ReadOnlySpan<byte> buffer)
    {
        CheckRegularFrame(buffer, expectedSequenceNumber);
        var info = new FrameInfo(expectedSequenceNumber, IsFinal: false, frameLength);
        // A regular frame can never carry 0xFFFFFFFF (the end marker), so after 2^32-2 regular frames only the final may follow.
        expectedSequenceNumber++;
        return info;
    }

    private FrameInfo Finish(int contentLength)
    {
        Finished = true;
        return new FrameInfo(expectedSequenceNumber, IsFinal: true, contentLength);
    }

    private void EnsureNotFinished()
    {
        if (Finished)
        {
            throw new InvalidOperationException("The final frame was already read.");
        }
    }

    private static void RejectTrailingBytes(int bytesAfterFinalFrame)
    {
        if (bytesAfterFinalFrame != 0)
        {
            throw new MalformedInputException("The message has bytes after its final frame.");
        }
    }

    private void ReadExactly(Span<byte> destination, bool atFrameStart)
    {
        var read = source.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        if (read < destination.Length)
        {
            throw Truncated(atFrameStart && read == 0);
        }
    }

    private async ValueTask ReadExactlyAsync(Memory<byte> destination, bool atFrameStart, CancellationToken cancellationToken)
    {
        var read = await source.ReadAtLeastAsync(destination, destination.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read < destination.Length)
        {
            throw Truncated(atFrameStart && read == 0);
        }
    }

    private TruncatedException Truncated(bool atFrameBoundary) => atFrameBoundary
        ? new TruncatedException($"The message ends after frame {expectedSequenceNumber - 1} without a final frame.")
        : new TruncatedException($"The message ends inside frame {expectedSequenceNumber}.");
}
