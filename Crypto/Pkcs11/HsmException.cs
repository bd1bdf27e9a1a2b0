namespace Pii.Crypto.Pkcs11;

/// <summary>What went wrong talking to the HSM, so callers and operators can tell the cases apart.</summary>
public enum HsmFailure
{
    /// <summary>The options are incomplete or contradictory.</summary>
    Configuration,

    /// <summary>The PKCS#11 library could not be loaded or initialised.</summary>
    Library,

    /// <summary>No token with the configured slot id or label is present.</summary>
    TokenNotFound,

    /// <summary>The PIN is missing, unreadable, or the token rejected it.</summary>
    Pin,

    /// <summary>No AES secret key with the configured label is on the token.</summary>
    KeyNotFound,

    /// <summary>The key is extractable or not sensitive: it could leave the token, so it is refused.</summary>
    KeyPolicy,

    /// <summary>The token refused or failed an operation.</summary>
    Operation,
}

/// <summary>
/// The HSM could not be used. Never a reason to fall back to a software key: callers stop (the key service stays
/// sealed). Messages name the token and the key label, never the PIN or key material.
/// </summary>
public sealed class HsmException : Exception
{
    public HsmException(HsmFailure failure, string message) : base(message) => Failure = failure;

    public HsmException(HsmFailure failure, string message, Exception inner) : base(message, inner) => Failure = failure;

    public HsmFailure Failure { get; }
}
