using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MySqlConnector;
using Pii.Crypto.Fields;

namespace Pii.Bench.Shared;

/// <summary>
/// A DEK made the way the FormApi intake makes one (the key service's <c>datakey/plaintext/dnc</c>, stored wrapped in
/// <c>encryption_keys</c>), for benchmarks that seed rows under it directly.
/// </summary>
internal static class DncDekSeed
{
    public static async Task<FieldKey> CreateAsync(HttpClient http, string vaultAddress, string vaultToken, string dncConnectionString)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{vaultAddress}/v1/transit/datakey/plaintext/dnc") { Content = JsonContent.Create(new JsonObject { ["bits"] = 256 }) };
        request.Headers.Add("X-Vault-Token", vaultToken);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var data = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["data"]!;
        var plaintext = Convert.FromBase64String(data["plaintext"]!.GetValue<string>());
        try
        {
            await using var admin = new MySqlConnection(dncConnectionString);
            await admin.OpenAsync();
            await using var insert = new MySqlCommand("INSERT INTO encryption_keys (purpose, kek_name, kek_version, wrapped_dek, created_at) VALUES ('dnc', 'dnc', @v, @w, UTC_TIMESTAMP(6))", admin);
            insert.Parameters.AddWithValue("@v", data["key_version"]!.GetValue<int>());
            insert.Parameters.AddWithValue("@w", data["ciphertext"]!.GetValue<string>());
            await insert.ExecuteNonQueryAsync();
            return FieldKey.FromDek((int)insert.LastInsertedId, plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }
}
