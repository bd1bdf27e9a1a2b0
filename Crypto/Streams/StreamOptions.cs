namespace Pii.Crypto.Streams;

public sealed class StreamEncryptionOptions
{
    public const int DefaultFrameLength = 64 * 1024;

    /// <summary>
    /// Largest frame length this writer accepts: frames are buffered whole, and it equals the reader's default limit so
    /// everything we write opens with default options.
    /// </summary>
    public const int MaxFrameLength = StreamDecryptionOptions.DefaultMaxFrameLength;

    /// <summary>Plaintext bytes per regular frame (1 … 8 MiB).</summary>
    public int FrameLength { get; init; } = DefaultFrameLength;

    /// <summary>Frames encrypted concurrently by <see cref="StreamEncryptor.EncryptAsync"/>; 1 = on the calling thread.</summary>
    public int MaxDegreeOfParallelism { get; init; } = 1;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(FrameLength, 1, nameof(FrameLength));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(FrameLength, MaxFrameLength, nameof(FrameLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDegreeOfParallelism, 1, nameof(MaxDegreeOfParallelism));
    }
}

public sealed class StreamDecryptionOptions
{
    public const int DefaultMaxFrameLength = 8 * 1024 * 1024;

    private const int FrameLengthCeiling = 1024 * 1024 * 1024;

    /// <summary>EDK entries accepted in a header (bounds the keyring work an attacker can cause).</summary>
    public int MaxEncryptedDataKeys { get; init; } = 16;

    /// <summary>Header bytes accepted, tag included (a maximal context alone is 64 KiB).</summary>
    public int MaxHeaderLength { get; init; } = 256 * 1024;

    /// <summary>Frame length accepted from a header; a frame is buffered whole, so this bounds memory per frame.</summary>
    public int MaxFrameLength { get; init; } = DefaultMaxFrameLength;

    /// <summary>Frames decrypted concurrently by <see cref="StreamDecryptor.DecryptAsync"/>; 1 = on the calling thread.</summary>
    public int MaxDegreeOfParallelism { get; init; } = 1;

    internal static StreamDecryptionOptions Default { get; } = new();

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxEncryptedDataKeys, 1, nameof(MaxEncryptedDataKeys));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxHeaderLength, 128, nameof(MaxHeaderLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFrameLength, 1, nameof(MaxFrameLength));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxFrameLength, FrameLengthCeiling, nameof(MaxFrameLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDegreeOfParallelism, 1, nameof(MaxDegreeOfParallelism));
    }
}
