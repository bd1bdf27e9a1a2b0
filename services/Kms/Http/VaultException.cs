namespace Pii.Kms.Http;

/// <summary>
/// A failure Vault reports with a status and an <c>{"errors":[...]}</c> body. User errors are 400,
/// permission failures 403; the message is safe to return (never contains key material or plaintext).
/// </summary>
public sealed class VaultException : Exception
{
    public VaultException(int statusCode, string message) : base(message) => StatusCode = statusCode;

    public VaultException(int statusCode, IReadOnlyList<string> errors) : base(string.Join("; ", errors))
    {
        StatusCode = statusCode;
        Errors = errors;
    }

    public int StatusCode { get; }

    public IReadOnlyList<string>? Errors { get; }

    public static VaultException BadRequest(string message) => new(400, message);

    public static VaultException PermissionDenied(bool invalidToken) =>
        invalidToken ? new(403, ["permission denied", "invalid token"]) : new(403, ["permission denied"]);
}
