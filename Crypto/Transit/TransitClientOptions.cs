namespace Pii.Crypto.Transit;

/// <summary>
/// Where and how to reach a Vault Transit mount (our key service, Vault or OpenBao).
/// <see cref="FromEnvironment"/> reads Vault's own variables: <c>VAULT_ADDR</c>, <c>VAULT_TOKEN</c>, and
/// <c>VAULT_TOKEN_FILE</c> (a file holding the token; falls back to <c>~/.vault-token</c> like the Vault CLI).
/// </summary>
public sealed record TransitClientOptions
{
    public Uri Address { get; init; } = new("http://127.0.0.1:8200/");

    /// <summary>Mount path of the transit engine (any mount path is legal in Vault).</summary>
    public string MountPath { get; init; } = "transit";

    public string? Token { get; init; }

    public string? TokenFile { get; init; }

    /// <summary>Timeout of one attempt.</summary>
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries after the first attempt, for transient failures only (connection errors, timeouts, 412/429/502/503/504).</summary>
    public int MaxRetries { get; init; } = 3;

    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    public static TransitClientOptions FromEnvironment()
    {
        var address = Environment.GetEnvironmentVariable("VAULT_ADDR");
        var tokenFile = Environment.GetEnvironmentVariable("VAULT_TOKEN_FILE");
        if (tokenFile is null)
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            var cli = Path.Combine(home, ".vault-token");
            tokenFile = File.Exists(cli) ? cli : null;
        }

        return new TransitClientOptions
        {
            Address = string.IsNullOrEmpty(address) ? new Uri("http://127.0.0.1:8200/") : new Uri(address.EndsWith('/') ? address : address + "/"),
            Token = Environment.GetEnvironmentVariable("VAULT_TOKEN"),
            TokenFile = tokenFile,
        };
    }

    /// <summary>The token: <see cref="Token"/> if set, else the trimmed content of <see cref="TokenFile"/>.</summary>
    public string? ResolveToken()
    {
        if (!string.IsNullOrEmpty(Token))
        {
            return Token;
        }

        return TokenFile is not null && File.Exists(TokenFile) ? File.ReadAllText(TokenFile).Trim() : null;
    }
}
