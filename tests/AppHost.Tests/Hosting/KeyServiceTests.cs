using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;

namespace Pii.AppHost.Tests.Hosting;

/// <summary>The key service resource: services/Kms started by DCP with its config file, then provisioned.</summary>
public sealed class KeyServiceTests
{
    [Fact]
    public async Task Key_service_starts_healthy_with_the_config_file_contract_and_is_provisioned()
    {
        var model = LocalResources.CreateBuilder("kms");
        var vault = model.AddKeyService("vault").AddTransitKey("dnc");
        var intake = vault.AddToken("formapi", "dnc-intake");
        await using var resources = await LocalResources.StartAsync(model);
        using var http = new HttpClient { BaseAddress = new Uri(vault.Address()) };

        using (var health = await http.GetAsync("/v1/sys/health"))
        {
            Assert.True((int)health.StatusCode < 500);
        }

        var config = JsonNode.Parse(await File.ReadAllTextAsync(vault.KeyServiceSetup().ConfigurationPath))!;
        Assert.Equal(new Uri(vault.Address()).Authority, (string?)config["listener"]!["tcp"]!["address"]);
        Assert.True(Path.IsPathRooted((string?)config["storage"]!["sqlite"]!["path"]));
        Assert.True(Path.IsPathRooted((string?)config["audit"]!["file"]!["path"]));
        var masterKey = (string)config["master_key"]!["file"]!;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(masterKey));
        Assert.Equal(32, Convert.FromBase64String(await File.ReadAllTextAsync(masterKey)).Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode((string)config["root_token_file"]!));

        // The intake token may take data keys from 'dnc' but never decrypt.
        using var datakey = new HttpRequestMessage(HttpMethod.Post, "/v1/transit/datakey/plaintext/dnc") { Content = JsonContent.Create(new { }) };
        datakey.Headers.Add("X-Vault-Token", intake.Token);
        using (var response = await http.SendAsync(datakey))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        // An orphan: revoking the root token that provisioned it would not take it along.
        using var lookup = new HttpRequestMessage(HttpMethod.Get, "/v1/auth/token/lookup-self");
        lookup.Headers.Add("X-Vault-Token", intake.Token);
        using (var response = await http.SendAsync(lookup))
        {
            Assert.True((bool)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["data"]!["orphan"]!);
        }

        using var decrypt = new HttpRequestMessage(HttpMethod.Post, "/v1/transit/decrypt/dnc") { Content = JsonContent.Create(new { ciphertext = "vault:v1:AAAA" }) };
        decrypt.Headers.Add("X-Vault-Token", intake.Token);
        using (var response = await http.SendAsync(decrypt))
        {
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        }
    }
}
