using System.Buffers;
using System.Security.Cryptography;
using Pii.Crypto.Streams;
using Pii.Crypto.Streams.Keyrings;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace Pii.BackupService.Backups;

/// <summary>What one pass through the pipeline produced.</summary>
internal sealed record PipelineResult(long PlaintextBytes, long CompressedBytes, long ObjectBytes, byte[] PlaintextHash, byte[] ObjectSha256);

/// <summary>
/// dump bytes → keyed hash → zstd (its own worker threads, so compression runs beside the reading and encrypting
/// thread) → ESDK v2 message (suite 0x0478) → <paramref name="sink"/> (an S3 multipart upload). Buffers are fixed-size
/// and reused: memory does not grow with the dump, and no plaintext is written anywhere but into the compressor.
/// </summary>
internal static class BackupPipeline
{
    public const int ReadChunk = 1024 * 1024;

    public static async Task<PipelineResult> RunAsync(
        Stream dump, Stream sink, IKeyring keyring, IReadOnlyDictionary<string, string> context, IncrementalHash plaintextHash,
        int frameLength, int level, int threads, Action<long>? progress, CancellationToken cancellationToken)
    {
        using var objectHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var stored = new HashingStream(sink, objectHash);
        var encrypting = await StreamEncryptor.CreateAsync(stored, keyring, context, new StreamEncryptionOptions { FrameLength = frameLength },
            leaveOpen: true, cancellationToken);
        var compressed = new HashingStream(encrypting, hash: null);
        long plaintextBytes = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(ReadChunk);
        try
        {
            await using (encrypting)
            {
                var zstd = new CompressionStream(compressed, level, leaveOpen: true);
                await using (zstd)
                {
                    zstd.SetParameter(ZSTD_cParameter.ZSTD_c_nbWorkers, threads);
                    int read;
                    while ((read = await dump.ReadAsync(buffer.AsMemory(0, ReadChunk), cancellationToken)) > 0)
                    {
                        plaintextHash.AppendData(buffer, 0, read);
                        plaintextBytes += read;
                        progress?.Invoke(plaintextBytes);
                        await zstd.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    }
                }
                await encrypting.CompleteAsync(cancellationToken);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return new PipelineResult(plaintextBytes, compressed.Bytes, stored.Bytes, plaintextHash.GetHashAndReset(), objectHash.GetHashAndReset());
    }
}

/// <summary>What reading a backup back produced: the authenticated context and the hashes to compare with the manifest.</summary>
internal sealed record ReadBackResult(IReadOnlyDictionary<string, string> Context, long PlaintextBytes, long ObjectBytes, byte[] PlaintextHash, byte[] ObjectSha256);

/// <summary>
/// The reverse: stored object → ESDK decryption (every frame authenticated before its bytes go on) → zstd → keyed hash →
/// <paramref name="output"/> (a restore tool's stdin, or nothing for a verify).
/// </summary>
internal static class ReadBackPipeline
{
    public static async Task<ReadBackResult> RunAsync(
        Stream stored, Stream? output, IKeyring keyring, IncrementalHash plaintextHash, Action<long>? progress, CancellationToken cancellationToken)
    {
        using var objectHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var counted = new HashingStream(stored, objectHash);
        var decrypting = await StreamDecryptor.OpenAsync(counted, keyring, leaveOpen: true, cancellationToken: cancellationToken);
        long plaintextBytes = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(BackupPipeline.ReadChunk);
        try
        {
            await using (decrypting)
            {
                var zstd = new DecompressionStream(decrypting, leaveOpen: true);
                await using (zstd)
                {
                    int read;
                    while ((read = await zstd.ReadAsync(buffer.AsMemory(0, BackupPipeline.ReadChunk), cancellationToken)) > 0)
                    {
                        plaintextHash.AppendData(buffer, 0, read);
                        plaintextBytes += read;
                        progress?.Invoke(plaintextBytes);
                        if (output is not null) await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    }
                }
                // zstd stops at the end of its frame: the message must end there too (its final frame authenticates the end).
                if (await decrypting.ReadAsync(buffer.AsMemory(0, 1), cancellationToken) != 0)
                {
                    throw new Pii.Crypto.MalformedInputException("Bytes follow the compressed dump inside the message.");
                }
                return new ReadBackResult(decrypting.EncryptionContext, plaintextBytes, counted.Bytes, plaintextHash.GetHashAndReset(), objectHash.GetHashAndReset());
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
