using System.Text.Json.Nodes;
using Pii.Kms.Auth;

namespace Pii.Kms.Http;

/// <summary>
/// What the Vault pipeline knows about one /v1 request: the ACL path and operation, the parsed JSON body,
/// the caller's token, warnings to return, and the response a handler produced (written by the pipeline
/// after the audit device has logged it).
/// </summary>
public sealed class VaultRequest
{
    public required string RequestId { get; init; }

    /// <summary>The path after <c>/v1/</c> without trailing slash, as ACL rules see it (list operations add one).</summary>
    public required string Path { get; init; }

    /// <summary>Vault's logical operation: create, read, update, delete or list.</summary>
    public required string Operation { get; set; }

    public JsonObject Body { get; set; } = [];

    public TokenEntry? Token { get; set; }

    public List<string> Warnings { get; } = [];

    public VaultResult? Response { get; set; }

    public string? RemoteAddress { get; init; }

    /// <summary>
    /// Set by the pipeline once the token, ACL and audit steps passed and the path named this handler exactly; only then
    /// may a handler run (see <see cref="VaultEndpoints"/>).
    /// </summary>
    public bool Admitted { get; set; }
}

public static class VaultRequestExtensions
{
    public static VaultRequest Vault(this HttpContext context) =>
        context.Features.Get<VaultRequest>() is { Admitted: true } request
            ? request
            : throw new InvalidOperationException("The Vault pipeline did not admit this request.");
}
