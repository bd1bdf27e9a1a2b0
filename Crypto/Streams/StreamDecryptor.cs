using System.Buffers;
using Pii.Crypto.Streams.Keyrings;

namespace Pii.Crypto.Streams;

/// <summary>
/// Decrypts AWS Encryption SDK messages (format v2, suite 0x0478, framed only; others are refused). Failures are
/// typed: <see cref="UnknownKeyException"/> (no EDK for this keyring), <see cref="TamperedException"/>,
/// <see cref="TruncatedException"/>, <see cref="MalformedInputException"/>, <see cref="UnsupportedVersionException"/>.
/// </summary>
public static class StreamDecryptor
{
    /// <summary>Reads and authenticates the header, then returns a stream of the verified plaintext.</summary>
    public static async Task<DecryptingStream> OpenAsync(
        Stream ciphertext, IKeyring keyring, StreamDecryptionOptions? options = null, bool leaveOpen = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentNullException.ThrowIfNull(keyring);
        options ??= StreamDecryptionOptions.Default;
        options.Validate();
        var (header, cipher) = await MessageCrypto.OpenAsync(MessageCrypto.HeaderSource(ciphertext), keyring, options, cancellationToken)
            .ConfigureAwait(false);
        return new DecryptingStream(ciphertext, header, cipher, leaveOpen);
    }

    /// <summary>
    /// Decrypts all of <paramref name="ciphertext"/> into <paramref name="plaintext"/>; with
    /// <see cref="StreamDecryptionOptions.MaxDegreeOfParallelism"/> above 1 frames are decrypted on several threads
    /// (bounded, in order). Returns the authenticated encryption context. Plaintext is written frame by frame as each
    /// verifies, so on failure the output holds a verified prefix the caller must discard. Neither stream is disposed.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, string>> DecryptAsync(
        Stream ciphertext, Stream plaintext, IKeyring keyring, StreamDecryptionOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        options ??= StreamDecryptionOptions.Default;
        if (options.MaxDegreeOfParallelism == 1)
        {
            var decrypting = await OpenAsync(ciphertext, keyring, options, leaveOpen: true, cancellationToken).ConfigureAwait(false);
            await using (decrypting.ConfigureAwait(false))
            {
                await decrypting.CopyToAsync(plaintext, decrypting.FrameLength, cancellationToken).ConfigureAwait(false);
                await plaintext.FlushAsync(cancellationToken).ConfigureAwait(false);
                return decrypting.EncryptionContext;
            }
        }

        ArgumentNullException.ThrowIfNull(ciphertext);
        ArgumentNullException.ThrowIfNull(keyring);
        options.Validate();
        var (header, cipher) = await MessageCrypto.OpenAsync(MessageCrypto.HeaderSource(ciphertext), keyring, options, cancellationToken)
            .ConfigureAwait(false);
        using (cipher)
        {
            var parser = new FrameParser(ciphertext, header.FrameLength);
            await OrderedFramePipeline.RunAsync(
                options.MaxDegreeOfParallelism,
                async token =>
                {
                    var input = ArrayPool<byte>.Shared.Rent(parser.MaxFrameSize);
                    try
                    {
                        var frame = await parser.ReadFrameAsync(input, token).ConfigureAwait(false);
                        return new FrameWork { Input = input, Output = ArrayPool<byte>.Shared.Rent(header.FrameLength), Frame = frame };
                    }
                    catch
                    {
                        ArrayPool<byte>.Shared.Return(input);
                        throw;
                    }
                },
                work =>
                {
                    cipher.DecryptFrame(work.Frame.SequenceNumber, work.Frame.IsFinal, work.Input.AsSpan(0, work.Frame.Size), work.Output);
                    work.OutputLength = work.Frame.ContentLength;
                },
                (work, token) => plaintext.WriteAsync(work.Output.AsMemory(0, work.OutputLength), token),
                StreamEncryptor.Release,
                cancellationToken).ConfigureAwait(false);
            await plaintext.FlushAsync(cancellationToken).ConfigureAwait(false);
            return header.EncryptionContext;
        }
    }
}
