using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pii.AppHost.Hosting;

/// <summary>A key-service identity: a token bound to one policy, injected as VAULT_ADDR / VAULT_TOKEN / services__vault__http__0.</summary>
public sealed class KeyServiceToken(KeyServiceResource keyService, Func<string> token) : IResourceReference
{
    public Resource Resource => keyService;

    public string Token => token();

    public void ApplyTo(IDictionary<string, string?> environment)
    {
        environment[$"services__{keyService.Name}__http__0"] = keyService.Address;
        environment["VAULT_ADDR"] = keyService.Address;
        environment["VAULT_TOKEN"] = Token;
    }
}

/// <summary>
/// The key service (services/Kms, a Vault-Transit-compatible server) started in non-dev mode with
/// <c>-config=PATH</c> (JSON: listener, sqlite storage, master key file, audit file, root token file), then
/// provisioned through the Vault HTTP API (VAULT-TRANSIT.md §2): the ACL policies in services/Kms/policies/*.hcl,
/// the transit keys, and one token per service bound to its policy. With <c>Resources:&lt;name&gt;:Url</c> and
/// <c>:Token</c> it is external (a real Vault or OpenBao): not launched, provisioned with that token.
/// </summary>
public sealed class KeyServiceResource : ProjectResource
{
    public const string KmsProject = "services/Kms/Kms.csproj";
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly AppModel _model;
    private readonly List<string> _keys = [];
    private readonly List<(string Name, string Policy, string Token)> _tokens = [];
    private readonly string? _externalUrl;
    private readonly string _rootToken;

    public KeyServiceResource(AppModel model, string name)
        : base(model, name, KmsProject, "KeyService", host: "127.0.0.1", launch: model.ResourceConfiguration(name)["Url"] is null)
    {
        _model = model;
        var external = model.ResourceConfiguration(name);
        _externalUrl = external["Url"]?.TrimEnd('/');
        if (_externalUrl is not null)
        {
            Type = "External";
            _rootToken = external["Token"] ?? throw new InvalidOperationException($"Resources:{name}:Token is required with Resources:{name}:Url.");
        }
        else
        {
            _rootToken = model.Secrets.GetOrCreate($"{name}-root-token");
            BeforeStart.Insert(0, WriteConfigurationAsync);
            // The Transit server and its policies land together; an older checkout's key service takes no config file.
            if (HasTransitServer) WithArgs("-config=" + ConfigurationPath);
        }
        // Vault's sys/health: 200 active, 429/473 standby; 501 uninitialised and 503 sealed are not healthy.
        HealthCheck = HealthChecks.Http200(Address + "/v1/sys/health", status => status < 500);
        OnReady.Add(ProvisionAsync);
    }

    public bool IsExternal => _externalUrl is not null;

    /// <summary>The key service's base URL (VAULT_ADDR).</summary>
    public string Address => _externalUrl ?? HttpEndpoint.Url;

    public string ConfigurationPath => Path.Combine(_model.DataPath(Name), "kms.json");

    /// <summary>True once services/Kms ships its policies, i.e. it is the Transit server (not the early /health shell).</summary>
    public bool HasTransitServer => Directory.Exists(PoliciesDirectory);

    public string PoliciesDirectory => Path.Combine(_model.Options.RepoRoot, "services", "Kms", "policies");

    /// <summary>A transit key (aes256-gcm96) created at provisioning.</summary>
    public KeyServiceResource AddTransitKey(string keyName)
    {
        _keys.Add(keyName);
        return this;
    }

    /// <summary>A token for <paramref name="serviceName"/> bound to <paramref name="policy"/>, created once and kept in the secrets folder.</summary>
    public KeyServiceToken AddToken(string serviceName, string policy)
    {
        var token = _model.Secrets.GetOrCreate(TokenSecretName(serviceName), () => "hvs." + SecretStore.NewToken());
        _tokens.Add((serviceName, policy, token));
        return new KeyServiceToken(this, () => token);
    }

    private string TokenSecretName(string serviceName) => $"{Name}-token-{serviceName}";

    private async Task WriteConfigurationAsync(CancellationToken cancellationToken)
    {
        var directory = _model.DataPath(Name);
        Directory.CreateDirectory(directory);
        // The key service reads its master key (32 random bytes, base64) from this 0600 file; it is never stored beside its data.
        _model.Secrets.GetOrCreate($"{Name}-master-key", () =>
        {
            var key = RandomNumberGenerator.GetBytes(32);
            try { return Convert.ToBase64String(key); }
            finally { CryptographicOperations.ZeroMemory(key); }
        });
        var configuration = new JsonObject
        {
            ["listener"] = new JsonObject { ["tcp"] = new JsonObject { ["address"] = $"127.0.0.1:{HttpEndpoint.Port}" } },
            ["storage"] = new JsonObject { ["sqlite"] = new JsonObject { ["path"] = Path.Combine(directory, "kms.db") } },
            ["master_key"] = new JsonObject { ["file"] = _model.Secrets.PathOf($"{Name}-master-key") },
            ["audit"] = new JsonObject { ["file"] = new JsonObject { ["path"] = Path.Combine(directory, "audit.log") } },
            ["root_token_file"] = _model.Secrets.PathOf($"{Name}-root-token"),
        };
        await File.WriteAllTextAsync(ConfigurationPath, configuration.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
    }

    private async Task ProvisionAsync(CancellationToken cancellationToken)
    {
        if (!HasTransitServer)
        {
            Log.Append($"[apphost] {Name}: provisioning skipped: {PoliciesDirectory} does not exist yet (this key service has no Transit API); "
                + "services get their tokens but the tokens are not registered.", isError: false);
            return;
        }
        foreach (var file in Directory.EnumerateFiles(PoliciesDirectory, "*.hcl").Order(StringComparer.Ordinal))
        {
            var policy = Path.GetFileNameWithoutExtension(file);
            var body = new JsonObject { ["policy"] = await File.ReadAllTextAsync(file, cancellationToken) };
            await SendAsync(HttpMethod.Put, $"/v1/sys/policies/acl/{policy}", body, cancellationToken);
        }
        foreach (var key in _keys)
        {
            await SendAsync(HttpMethod.Post, $"/v1/transit/keys/{key}", new JsonObject { ["type"] = "aes256-gcm96" }, cancellationToken);
        }
        foreach (var (service, policy, token) in _tokens)
        {
            if (await TokenWorksAsync(token, cancellationToken)) continue;
            var body = new JsonObject
            {
                ["id"] = token,
                ["policies"] = new JsonArray(policy),
                ["display_name"] = service,
                ["no_default_policy"] = true,
                ["renewable"] = false,
                // An orphan: revoking the provisioning (root) token must not revoke every service's token with it.
                ["no_parent"] = true,
            };
            try
            {
                await SendAsync(HttpMethod.Post, "/v1/auth/token/create", body, cancellationToken);
            }
            catch (InvalidOperationException e) when (e.Message.Contains("cannot create a token with this id", StringComparison.Ordinal))
            {
                // The id is taken or was revoked: a revoked token stays revoked, so a new one is needed.
                throw new InvalidOperationException(
                    $"The key service refused {service}'s token (revoked?). Delete {_model.Secrets.PathOf(TokenSecretName(service))} and start again to have a new one made.", e);
            }
        }
        Log.Append($"[apphost] {Name}: provisioned policies, {_keys.Count} transit keys and {_tokens.Count} service tokens.", isError: false);
    }

    private async Task<bool> TokenWorksAsync(string token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Address + "/v1/auth/token/lookup-self");
        request.Headers.Add("X-Vault-Token", token);
        using var response = await Http.SendAsync(request, cancellationToken);
        return response.IsSuccessStatusCode;
    }

    private async Task SendAsync(HttpMethod method, string path, JsonObject body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, Address + path) { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Vault-Token", _rootToken);
        using var response = await Http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            // Vault's error body lists messages only; it never echoes the token or the request body.
            var errors = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new InvalidOperationException($"{method} {path} → {(int)response.StatusCode}: {(errors.Length > 500 ? errors[..500] : errors)}");
        }
    }
}

public static class KeyServiceModelExtensions
{
    public static KeyServiceResource AddKeyService(this AppModel model, string name) => model.Add(new KeyServiceResource(model, name));
}
