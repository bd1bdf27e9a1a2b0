using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace Pii.AppHost.Hosting;

/// <summary>
/// Role API keys for the services' <c>X-Api-Key</c> authentication, generated once into
/// <c>.pii/secrets/api-keys.json</c> as <c>{"&lt;service&gt;": {"&lt;role&gt;": "&lt;key&gt;"}}</c> (0600) for operators and
/// scripts. A service receives only SHA-256 hashes: <c>Auth__ApiKeyHashes__&lt;role&gt;=&lt;lower-case hex&gt;</c>.
/// </summary>
public sealed class ApiKeys(SecretStore secrets)
{
    public const string FileName = "api-keys.json";
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private readonly object _gate = new();

    /// <summary>Ensures a key exists for each role of <paramref name="service"/>; returns role → key.</summary>
    public IReadOnlyDictionary<string, string> Ensure(string service, IReadOnlyList<string> roles)
    {
        lock (_gate)
        {
            var path = secrets.PathOf(FileName);
            var all = File.Exists(path)
                ? JsonSerializer.Deserialize<SortedDictionary<string, SortedDictionary<string, string>>>(File.ReadAllText(path)) ?? []
                : new SortedDictionary<string, SortedDictionary<string, string>>(StringComparer.Ordinal);
            if (!all.TryGetValue(service, out var keys)) all[service] = keys = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var changed = false;
            foreach (var role in roles)
            {
                if (keys.ContainsKey(role)) continue;
                keys[role] = "pii_" + SecretStore.NewToken();
                changed = true;
            }
            if (changed || !File.Exists(path)) secrets.Write(FileName, JsonSerializer.Serialize(all, Indented));
            return roles.ToDictionary(r => r, r => keys[r]);
        }
    }

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}

public static class ApiKeyExtensions
{
    /// <summary>Generates the service's role keys (once, into api-keys.json under the resource's name) and injects their hashes.</summary>
    public static IResourceBuilder<ProjectResource> WithApiKeys(this IResourceBuilder<ProjectResource> project, params string[] roles)
    {
        var apiKeys = LocalState.Of(project.ApplicationBuilder).ApiKeys;
        foreach (var (role, key) in apiKeys.Ensure(project.Resource.Name, roles)) project.WithEnvironment($"Auth__ApiKeyHashes__{role}", ApiKeys.Hash(key));
        return project;
    }
}
