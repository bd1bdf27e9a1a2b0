// Where plaintext bytes live in a message (frame layout in FrameCipher.cs), for random access:
//   H = header length (body + 16-byte tag), F = frame length, k = number of regular frames, r = final content length
//   regular frame i (0-based) starts at   H + i·(F + 32) and holds plaintext [i·F, (i+1)·F)
//   the final frame starts at             H + k·(F + 32), is 40 + r bytes and holds plaintext [k·F, k·F + r)
//   ciphertext length                     L = H + k·(F + 32) + 40 + r,   plaintext length = k·F + r
// Given L, (k, r) is unique because 0 ≤ r ≤ F < F + 32: k = ⌊(L − H − 40) / (F + 32)⌋ and r is the rest. Both forms of an
// exact multiple (empty final frame, or a full final frame) therefore map back correctly.
namespace Pii.Crypto.Streams;

public sealed record StreamLayout
{
    private StreamLayout(int headerLength, int frameLength, long regularFrameCount, int finalFrameContentLength)
    {
        HeaderLength = headerLength;
        FrameLength = frameLength;
        RegularFrameCount = regularFrameCount;
        FinalFrameContentLength = finalFrameContentLength;
    }

    public int HeaderLength { get; }

    public int FrameLength { get; }

    public long RegularFrameCount { get; }

    public int FinalFrameContentLength { get; }

    public long PlaintextLength => RegularFrameCount * FrameLength + FinalFrameContentLength;

    public long CiphertextLength => FinalFrameOffset + FrameCipher.FinalFrameOverhead + FinalFrameContentLength;

    /// <summary>Offset of the final frame in the ciphertext.</summary>
    public long FinalFrameOffset => FrameOffset(RegularFrameCount);

    /// <summary>Layout our writer produces for <paramref name="plaintextLength"/> bytes (empty final frame on exact multiples).</summary>
    public static StreamLayout ForPlaintext(int headerLength, int frameLength, long plaintextLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frameLength, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(plaintextLength);
        return new StreamLayout(headerLength, frameLength, plaintextLength / frameLength, (int)(plaintextLength % frameLength));
    }

    /// <summary>Layout of a stored message of <paramref name="ciphertextLength"/> bytes; throws when no layout fits.</summary>
    public static StreamLayout FromCiphertextLength(int headerLength, int frameLength, long ciphertextLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frameLength, 1);
        var body = ciphertextLength - headerLength - FrameCipher.FinalFrameOverhead;
        if (body < 0)
        {
            throw new TruncatedException("The message is shorter than its header and an empty final frame.");
        }
        var regularFrameSize = (long)frameLength + FrameCipher.RegularFrameOverhead;
        var regularFrames = body / regularFrameSize;
        var rest = body % regularFrameSize;
        if (rest > frameLength || regularFrames >= FrameCipher.EndMarker - 1)
        {
            throw new MalformedInputException("The message length does not match any frame layout.");
        }
        return new StreamLayout(headerLength, frameLength, regularFrames, (int)rest);
    }

    /// <summary>Offset of frame <paramref name="frameIndex"/> (0-based; index <see cref="RegularFrameCount"/> is the final frame).</summary>
    public long FrameOffset(long frameIndex) => HeaderLength + frameIndex * ((long)FrameLength + FrameCipher.RegularFrameOverhead);

    /// <summary>
    /// Frames covering plaintext [<paramref name="start"/>, <paramref name="end"/>) and the ciphertext bytes
    /// [Offset, Offset + Length) that hold them. An empty range covers no frame.
    /// </summary>
    public (long FirstFrame, long LastFrame, long Offset, long Length) CiphertextRangeFor(long start, long end)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfLessThan(end, start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(end, PlaintextLength);
        if (start == end)
        {
            return (0, -1, FrameOffset(0), 0);
        }
        var first = Math.Min(start / FrameLength, RegularFrameCount);
        var last = Math.Min((end - 1) / FrameLength, RegularFrameCount);
        var offset = FrameOffset(first);
        var endOffset = last == RegularFrameCount ? CiphertextLength : FrameOffset(last + 1);
        return (first, last, offset, endOffset - offset);
    }
}
