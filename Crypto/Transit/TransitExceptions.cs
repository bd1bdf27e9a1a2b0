namespace Pii.Crypto.Transit;

/// <summary>
/// A Vault Transit call failed with an HTTP error that is not a cryptographic verdict. Crypto verdicts use the
/// shared types instead: <see cref="TamperedException"/> (authentication failed), <see cref="UnknownKeyException"/>
/// (key version too old, too new or trimmed), <see cref="MalformedInputException"/> (not a vault:vN: ciphertext).
/// <see cref="Errors"/> holds Vault's error strings (never plaintext or keys).
/// </summary>
public abstract class TransitException : Exception
{
    protected TransitException(int statusCode, IReadOnlyList<string> errors)
        : base($"Vault answered {statusCode}: {string.Join("; ", errors)}")
    {
        StatusCode = statusCode;
        Errors = errors;
    }

    public int StatusCode { get; }

    public IReadOnlyList<string> Errors { get; }
}

/// <summary>403: missing, invalid or under-privileged token.</summary>
public sealed class TransitForbiddenException(int statusCode, IReadOnlyList<string> errors) : TransitException(statusCode, errors);

/// <summary>The named key (or path) does not exist: 404, or Vault's 400 "encryption key not found".</summary>
public sealed class TransitNotFoundException(int statusCode, IReadOnlyList<string> errors) : TransitException(statusCode, errors);

/// <summary>Any other 4xx: the request was refused as invalid.</summary>
public sealed class TransitRequestException(int statusCode, IReadOnlyList<string> errors) : TransitException(statusCode, errors);

/// <summary>5xx after retries (sealed, unavailable, internal error).</summary>
public sealed class TransitServerException(int statusCode, IReadOnlyList<string> errors) : TransitException(statusCode, errors);
