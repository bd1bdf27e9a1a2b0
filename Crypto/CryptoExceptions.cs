namespace Pii.Crypto;

/// <summary>
/// Base of every failure the crypto core reports. Messages never contain key material or plaintext.
/// Callers distinguish the cases by type: tampered ≠ wrong key ≠ unsupported version ≠ malformed ≠ truncated.
/// </summary>
public abstract class CryptoException : Exception
{
    protected CryptoException(string message) : base(message) { }
    protected CryptoException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>Authentication failed: the ciphertext, its context (AAD) or its tag was altered.</summary>
public sealed class TamperedException : CryptoException
{
    public TamperedException(string message) : base(message) { }
    public TamperedException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>The ciphertext names a key we do not hold (unknown DEK id, unknown KEK version, not for this keyring).</summary>
public sealed class UnknownKeyException : CryptoException
{
    public UnknownKeyException(string message) : base(message) { }
}

/// <summary>The format version or mode byte is one this build does not read.</summary>
public sealed class UnsupportedVersionException : CryptoException
{
    public UnsupportedVersionException(string message) : base(message) { }
}

/// <summary>The input does not parse: wrong lengths, bad encoding, fields out of bounds.</summary>
public sealed class MalformedInputException : CryptoException
{
    public MalformedInputException(string message) : base(message) { }
}

/// <summary>The input ended early (e.g. a stream without its final frame).</summary>
public sealed class TruncatedException : CryptoException
{
    public TruncatedException(string message) : base(message) { }
}
