using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace Pii.AppHost.Hosting;

/// <summary>services/Kms as a project whose build the AppHost (or Pii.Hosting, for tests) has already done.</summary>
public sealed class KeyServiceProject : IProjectMetadata
{
    public string ProjectPath { get; } = Path.Combine(LocalState.FindRepoRoot(), "services", "Kms", "Kms.csproj");

    public bool SuppressBuild => true;
}

/// <summary>
/// What the key service is provisioned with once it is ready, through the Vault HTTP API (VAULT-TRANSIT.md §2): the ACL
/// policies in services/Kms/policies/*.hcl, the transit keys, and one token per service bound to its policy.
/// </summary>
public sealed class KeyServiceSetup(string rootToken, string policiesDirectory, string configurationPath) : IResourceAnnotation
{
    /// <summary>The key service's configuration file (written before every start).</summary>
    public string ConfigurationPath { get; } = configurationPath;

    internal string RootToken { get; } = rootToken;

    internal string PoliciesDirectory { get; } = policiesDirectory;

    internal List<string> TransitKeys { get; } = [];

    internal List<KeyServiceToken> Tokens { get; } = [];
}

/// <summary>
/// A key-service identity: a token bound to one policy, kept as a secret parameter. A project referencing it gets
/// <c>services__&lt;vault&gt;__http__0</c>, <c>VAULT_ADDR</c> and <c>VAULT_TOKEN</c>.
/// </summary>
public sealed class KeyServiceToken(IResourceBuilder<ProjectResource> keyService, string serviceName, string policy, IResourceBuilder<ParameterResource> parameter, string token)
{
    public IResourceBuilder<ProjectResource> KeyService { get; } = keyService;

    public string ServiceName { get; } = serviceName;

    public string Policy { get; } = policy;

    public IResourceBuilder<ParameterResource> Parameter { get; } = parameter;

    /// <summary>The token itself (tests hand it to the service under test).</summary>
    public string Token { get; } = token;
}

/// <summary>
/// The key service (services/Kms, a Vault-Transit-compatible server) started with <c>-config=PATH</c> (JSON: listener,
/// sqlite storage, master key file, audit file, root token file; written before each start), healthy when
/// <c>/v1/sys/health</c> answers 200 (initialised, unsealed, active), then provisioned (<see cref="KeyServiceSetup"/>).
/// </summary>
public static class KeyServiceBuilderExtensions
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    /// <summary>The key service on 127.0.0.1 (fixed port 18200 unless configured), its store in <c>&lt;state&gt;/data/&lt;name&gt;</c>.</summary>
    public static IResourceBuilder<ProjectResource> AddKeyService(this IDistributedApplicationBuilder builder, string name, int? port = 18200)
    {
        var state = LocalState.Of(builder);
        var listenPort = state.PortFor(name, port);
        var directory = state.DataPath(name);
        var configurationPath = Path.Combine(directory, "kms.json");
        var setup = new KeyServiceSetup(state.SecretValue($"{name}-root-token"), Path.Combine(state.RepoRoot, "services", "Kms", "policies"), configurationPath);
        var keyService = builder.AddProject<KeyServiceProject>(name, launchProfileName: null)
            .WithAnnotation(setup)
            .WithProjectDefaults()
            .WithHttpEndpoint(port: listenPort, targetPort: listenPort, isProxied: false)
            .WithArgs("-config=" + configurationPath)
            .WithHttpHealthCheck("/v1/sys/health")
            .OnResourceReady((resource, _, ct) => ProvisionAsync(resource, setup, ct));
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(keyService.Resource, async (_, ct) =>
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            // The master key (32 random bytes, base64) stays in the secrets folder, never beside the data it seals.
            state.SecretValue($"{name}-master-key", () =>
            {
                var key = RandomNumberGenerator.GetBytes(32);
                try { return Convert.ToBase64String(key); }
                finally { CryptographicOperations.ZeroMemory(key); }
            });
            var configuration = new JsonObject
            {
                ["listener"] = new JsonObject { ["tcp"] = new JsonObject { ["address"] = $"127.0.0.1:{listenPort.ToString(CultureInfo.InvariantCulture)}" } },
                ["storage"] = new JsonObject { ["sqlite"] = new JsonObject { ["path"] = Path.Combine(directory, "kms.db") } },
                ["master_key"] = new JsonObject { ["file"] = state.Secrets.PathOf($"{name}-master-key") },
                ["audit"] = new JsonObject { ["file"] = new JsonObject { ["path"] = Path.Combine(directory, "audit.log") } },
                ["root_token_file"] = state.Secrets.PathOf($"{name}-root-token"),
            };
            await File.WriteAllTextAsync(configurationPath, configuration.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct);
        });
        return keyService;
    }

    /// <summary>A transit key (aes256-gcm96) created at provisioning.</summary>
    public static IResourceBuilder<ProjectResource> AddTransitKey(this IResourceBuilder<ProjectResource> keyService, string keyName)
    {
        keyService.KeyServiceSetup().TransitKeys.Add(keyName);
        return keyService;
    }

    /// <summary>A token for <paramref name="serviceName"/> bound to <paramref name="policy"/>, made once and kept as a secret.</summary>
    public static KeyServiceToken AddToken(this IResourceBuilder<ProjectResource> keyService, string serviceName, string policy)
    {
        var state = LocalState.Of(keyService.ApplicationBuilder);
        var secretName = TokenSecretName(keyService.Resource.Name, serviceName);
        Func<string> create = () => "hvs." + SecretStore.NewToken();
        var token = new KeyServiceToken(keyService, serviceName, policy, state.Secret(secretName, create), state.SecretValue(secretName, create));
        keyService.KeyServiceSetup().Tokens.Add(token);
        return token;
    }

    /// <summary>The key service's address and this identity's token (<c>VAULT_ADDR</c>, <c>VAULT_TOKEN</c>, service discovery).</summary>
    public static IResourceBuilder<T> WithReference<T>(this IResourceBuilder<T> project, KeyServiceToken token) where T : IResourceWithEnvironment =>
        project.WithReference(token.KeyService)
            .WithEnvironment("VAULT_ADDR", token.KeyService.GetEndpoint("http"))
            .WithEnvironment("VAULT_TOKEN", token.Parameter);

    /// <summary>The root token (tests administer the key service with it).</summary>
    public static string RootToken(this IResourceBuilder<ProjectResource> keyService) => keyService.KeyServiceSetup().RootToken;

    /// <summary>The key service's base URL, resolved.</summary>
    public static string Address(this IResourceBuilder<ProjectResource> keyService) =>
        $"http://127.0.0.1:{keyService.Resource.Annotations.OfType<EndpointAnnotation>().Single().Port!.Value.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>What <paramref name="keyService"/> is provisioned with; fails for a project that is not a key service.</summary>
    public static KeyServiceSetup KeyServiceSetup(this IResourceBuilder<ProjectResource> keyService) =>
        keyService.Resource.Annotations.OfType<KeyServiceSetup>().SingleOrDefault()
        ?? throw new InvalidOperationException($"'{keyService.Resource.Name}' is not a key service (AddKeyService).");

    private static string TokenSecretName(string keyService, string serviceName) => $"{keyService}-token-{serviceName}";

    private static async Task ProvisionAsync(ProjectResource keyService, KeyServiceSetup setup, CancellationToken cancellationToken)
    {
        var address = $"http://127.0.0.1:{keyService.Annotations.OfType<EndpointAnnotation>().Single().Port!.Value.ToString(CultureInfo.InvariantCulture)}";
        foreach (var file in Directory.EnumerateFiles(setup.PoliciesDirectory, "*.hcl").Order(StringComparer.Ordinal))
        {
            var policy = Path.GetFileNameWithoutExtension(file);
            var body = new JsonObject { ["policy"] = await File.ReadAllTextAsync(file, cancellationToken) };
            await SendAsync(address, setup.RootToken, HttpMethod.Put, $"/v1/sys/policies/acl/{policy}", body, cancellationToken);
        }
        foreach (var key in setup.TransitKeys)
        {
            await SendAsync(address, setup.RootToken, HttpMethod.Post, $"/v1/transit/keys/{key}", new JsonObject { ["type"] = "aes256-gcm96" }, cancellationToken);
        }
        foreach (var token in setup.Tokens)
        {
            if (await TokenWorksAsync(address, token.Token, cancellationToken)) continue;
            var body = new JsonObject
            {
                ["id"] = token.Token,
                ["policies"] = new JsonArray(token.Policy),
                ["display_name"] = token.ServiceName,
                ["no_default_policy"] = true,
                ["renewable"] = false,
                // An orphan: revoking the provisioning (root) token must not revoke every service's token with it.
                ["no_parent"] = true,
            };
            try
            {
                await SendAsync(address, setup.RootToken, HttpMethod.Post, "/v1/auth/token/create", body, cancellationToken);
            }
            catch (InvalidOperationException e) when (e.Message.Contains("cannot create a token with this id", StringComparison.Ordinal))
            {
                // The id is taken or was revoked: a revoked token stays revoked, so a new one is needed.
                throw new InvalidOperationException(
                    $"The key service refused {token.ServiceName}'s token (revoked?). Delete the secret file {TokenSecretName(keyService.Name, token.ServiceName)} and start again to have a new one made.", e);
            }
        }
    }

    private static async Task<bool> TokenWorksAsync(string address, string token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, address + "/v1/auth/token/lookup-self");
        request.Headers.Add("X-Vault-Token", token);
        using var response = await Http.SendAsync(request, cancellationToken);
        return response.IsSuccessStatusCode;
    }

    private static async Task SendAsync(string address, string rootToken, HttpMethod method, string path, JsonObject body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, address + path) { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Vault-Token", rootToken);
        using var response = await Http.SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            // Vault's error body lists messages only; it never echoes the token or the request body.
            var errors = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new InvalidOperationException($"{method} {path} → {(int)response.StatusCode}: {(errors.Length > 500 ? errors[..500] : errors)}");
        }
    }
}
