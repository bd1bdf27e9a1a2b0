using System.Buffers;
using System.Security.Cryptography;
using Pii.Crypto.Streams.Keyrings;

namespace Pii.Crypto.Streams;

/// <summary>
/// Encrypts streams into AWS Encryption SDK messages (format v2, suite 0x0478, framed) that the official SDKs read.
/// </summary>
public static class StreamEncryptor
{
    private static readonly IReadOnlyDictionary<string, string> EmptyContext = new Dictionary<string, string>();

    /// <summary>
    /// Writes the header to <paramref name="ciphertext"/> and returns a stream that encrypts what is written to it.
    /// The caller must call <see cref="EncryptingStream.CompleteAsync"/> at the end of the plaintext.
    /// </summary>
    public static async Task<EncryptingStream> CreateAsync(
        Stream ciphertext, IKeyring keyring, IReadOnlyDictionary<string, string>? encryptionContext = null,
        StreamEncryptionOptions? options = null, bool leaveOpen = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentNullException.ThrowIfNull(keyring);
        options ??= new StreamEncryptionOptions();
        options.Validate();
        var (header, cipher) = await MessageCrypto.CreateAsync(keyring, encryptionContext ?? EmptyContext, options.FrameLength, cancellationToken)
            .ConfigureAwait(false);
        try
        {
            await ciphertext.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            return new EncryptingStream(ciphertext, cipher, options.FrameLength, leaveOpen);
        }
        catch
        {
            cipher.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Encrypts all of <paramref name="plaintext"/> into <paramref name="ciphertext"/>. With
    /// <see cref="StreamEncryptionOptions.MaxDegreeOfParallelism"/> above 1, frames are encrypted on several threads
    /// with a bounded number in flight and written in order. Neither stream is disposed.
    /// </summary>
    public static async Task EncryptAsync(
        Stream plaintext, Stream ciphertext, IKeyring keyring, IReadOnlyDictionary<string, string>? encryptionContext = null,
        StreamEncryptionOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        options ??= new StreamEncryptionOptions();
        if (options.MaxDegreeOfParallelism == 1)
        {
            var encrypting = await CreateAsync(ciphertext, keyring, encryptionContext, options, leaveOpen: true, cancellationToken).ConfigureAwait(false);
            await using (encrypting.ConfigureAwait(false))
            {
                await plaintext.CopyToAsync(encrypting, options.FrameLength, cancellationToken).ConfigureAwait(false);
                await encrypting.CompleteAsync(cancellationToken).ConfigureAwait(false);
            }
            return;
        }

        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentNullException.ThrowIfNull(keyring);
        options.Validate();
        var (header, cipher) = await MessageCrypto.CreateAsync(keyring, encryptionContext ?? EmptyContext, options.FrameLength, cancellationToken)
            .ConfigureAwait(false);
        using (cipher)
        {
            await ciphertext.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            var frameLength = options.FrameLength;
            uint nextSequenceNumber = 1;
            await OrderedFramePipeline.RunAsync(
                options.MaxDegreeOfParallelism,
                async token =>
                {
                    var input = ArrayPool<byte>.Shared.Rent(frameLength);
                    try
                    {
                        var read = await plaintext.ReadAtLeastAsync(input.AsMemory(0, frameLength), frameLength, throwOnEndOfStream: false, token)
                            .ConfigureAwait(false);
                        var isFinal = read < frameLength;
                        if (!isFinal && nextSequenceNumber == FrameCipher.EndMarker - 1)
                        {
                            throw new InvalidOperationException("A message holds at most 2^32-1 frames; use a larger frame length.");
                        }
                        var frame = new FrameInfo(nextSequenceNumber++, isFinal, read);
                        return new FrameWork { Input = input, Output = ArrayPool<byte>.Shared.Rent(frame.Size), Frame = frame };
                    }
                    catch
                    {
                        ArrayPool<byte>.Shared.Return(input);
                        throw;
                    }
                },
                work => work.OutputLength = cipher.EncryptFrame(
                    work.Frame.SequenceNumber, work.Frame.IsFinal, work.Input.AsSpan(0, work.Frame.ContentLength), work.Output),
                (work, token) => ciphertext.WriteAsync(work.Output.AsMemory(0, work.OutputLength), token),
                Release,
                cancellationToken).ConfigureAwait(false);
            await ciphertext.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    internal static void Release(FrameWork work)
    {
        CryptographicOperations.ZeroMemory(work.Input);
        CryptographicOperations.ZeroMemory(work.Output);
        ArrayPool<byte>.Shared.Return(work.Input);
        ArrayPool<byte>.Shared.Return(work.Output);
    }
}
