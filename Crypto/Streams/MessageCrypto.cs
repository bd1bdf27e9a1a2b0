using System.Security.Cryptography;
using Pii.Crypto.Streams.Keyrings;

namespace Pii.Crypto.Streams;

/// <summary>Builds a new message header on encrypt and opens an existing one on decrypt (key commitment, header tag).</summary>
internal static class MessageCrypto
{
    public const string ReservedContextPrefix = "aws-crypto-";

    /// <summary>Generates the data key, derives the keys and returns the serialized header (body + tag) and frame cipher.</summary>
    public static async Task<(byte[] Header, FrameCipher Cipher)> CreateAsync(
        IKeyring keyring, IReadOnlyDictionary<string, string> context, int frameLength, CancellationToken cancellationToken)
    {
        foreach (var key in context.Keys)
        {
            if (key.StartsWith(ReservedContextPrefix, StringComparison.Ordinal))
            {
                throw new ArgumentException($"Encryption context keys starting with {ReservedContextPrefix} are reserved.", nameof(context));
            }
        }
        var serializedContext = EncryptionContextSerializer.Serialize(context);
        using var dataKey = await keyring.GenerateDataKeyAsync(context, cancellationToken).ConfigureAwait(false);
        return BuildHeader(dataKey, serializedContext, frameLength);
    }

    /// <summary>
    /// Reads the header, unwraps the data key, checks the key commitment (constant time, before the derived key is
    /// used) and then the header tag.
    /// </summary>
    public static async Task<(MessageHeader Header, FrameCipher Cipher)> OpenAsync(
        ReadExactlyAsync source, IKeyring keyring, StreamDecryptionOptions options, CancellationToken cancellationToken)
    {
        var header = await HeaderReader.ReadAsync(source, options, cancellationToken).ConfigureAwait(false);
        var dataKey = await keyring.UnwrapDataKeyAsync(header.EncryptedDataKeys, header.EncryptionContext, cancellationToken).ConfigureAwait(false)
            ?? throw new UnknownKeyException("No encrypted data key of this message opens with the given keyring (wrong key, or an altered header).");
        try
        {
            return (header, OpenCipher(header, dataKey));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    /// <summary>Header source over a stream: the header is read with exact reads, never past its end.</summary>
    public static ReadExactlyAsync HeaderSource(Stream stream) => async (destination, cancellationToken) =>
    {
        var read = await stream.ReadAtLeastAsync(destination, destination.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read < destination.Length)
        {
            throw new TruncatedException("The message ends inside its header.");
        }
    };

    private static (byte[] Header, FrameCipher Cipher) BuildHeader(GeneratedDataKey dataKey, byte[] serializedContext, int frameLength)
    {
        var messageId = RandomNumberGenerator.GetBytes(MessageHeader.MessageIdLength);
        Span<byte> commitKey = stackalloc byte[KeyDerivation.CommitKeyLength];
        KeyDerivation.DeriveCommitKey(dataKey.PlaintextKey.Span, messageId, commitKey);
        var encryptionKey = new byte[32];
        KeyDerivation.DeriveEncryptionKey(dataKey.PlaintextKey.Span, messageId, encryptionKey);
        var cipher = new FrameCipher(encryptionKey, messageId);

        var body = MessageHeader.SerializeBody(messageId, serializedContext, dataKey.EncryptedDataKeys, frameLength, commitKey);
        var header = new byte[body.Length + MessageHeader.AuthTagLength];
        body.CopyTo(header, 0);
        cipher.ComputeHeaderTag(body, header.AsSpan(body.Length));
        return (header, cipher);
    }

    private static FrameCipher OpenCipher(MessageHeader header, byte[] dataKey)
    {
        if (dataKey.Length != KeyDerivation.DataKeyLength)
        {
            throw new UnknownKeyException("The keyring returned a data key of the wrong length.");
        }
        Span<byte> commitKey = stackalloc byte[KeyDerivation.CommitKeyLength];
        KeyDerivation.DeriveCommitKey(dataKey, header.MessageId, commitKey);
        if (!CryptographicOperations.FixedTimeEquals(commitKey, header.CommitKey))
        {
            throw new TamperedException("The key commitment does not match the data key (altered message ID or commit key).");
        }
        var encryptionKey = new byte[32];
        KeyDerivation.DeriveEncryptionKey(dataKey, header.MessageId, encryptionKey);
        var cipher = new FrameCipher(encryptionKey, header.MessageId);
        try
        {
            cipher.VerifyHeaderTag(header.Body, header.AuthTag);
            return cipher;
        }
        catch
        {
            cipher.Dispose();
            throw;
        }
    }
}
