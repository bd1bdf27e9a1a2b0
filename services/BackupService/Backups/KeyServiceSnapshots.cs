using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Pii.Crypto.Transit;
using Pii.Services.Shared;

namespace Pii.BackupService.Backups;

/// <summary>Fetches a snapshot of the key service's store (<c>GET v1/sys/storage/raft/snapshot</c>, token policy <c>backups</c>).</summary>
internal sealed class KeyServiceSnapshots(IHttpClientFactory clients, IConfiguration configuration)
{
    public async Task<(byte[] Snapshot, string Version)> GetAsync(CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/sys/storage/raft/snapshot");
        request.Headers.Add("X-Vault-Token", configuration["VAULT_TOKEN"]);
        using var response = await clients.CreateClient(DependencyChecks.KeyServiceClient).SendAsync(request, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw (int)response.StatusCode >= 500
                ? new TransitServerException((int)response.StatusCode, ["snapshot failed"])
                : new TransitForbiddenException((int)response.StatusCode, ["snapshot refused"]);
        }
        var body = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken);
        var data = body?["data"];
        if (data?["snapshot"]?.GetValue<string>() is not { } snapshot || data["format"]?.GetValue<string>() != "sqlite3")
        {
            throw new BackupFailedException("the key service's snapshot answer is not a sqlite3 snapshot");
        }
        return (Convert.FromBase64String(snapshot), data["version"]?.GetValue<string>() ?? "unknown");
    }
}
