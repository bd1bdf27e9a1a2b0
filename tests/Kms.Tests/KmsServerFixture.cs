using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Pii.Kms.Tests;

/// <summary>
/// A real key service (non-dev mode, config file, SQLite, master key file in its own directory, audit log)
/// hosted in-process with WebApplicationFactory. Each fixture gets its own directories.
/// </summary>
public sealed class KmsServerFixture : IDisposable
{
    public KmsServerFixture()
        : this(withMasterKey: true, auditPath: null)
    {
    }

    /// <param name="kestrelPort">When given, the app listens on this loopback port with real Kestrel (path decoding and
    /// normalisation as in production) instead of the in-memory test server.</param>
    internal KmsServerFixture(bool withMasterKey, string? auditPath, int? kestrelPort = null)
    {
        Root = Directory.CreateTempSubdirectory("kms-test-").FullName;
        Directory.CreateDirectory(Path.Combine(Root, "data"));
        Directory.CreateDirectory(Path.Combine(Root, "secrets"));
        MasterKeyFile = Path.Combine(Root, "secrets", "master.key");
        if (withMasterKey)
        {
            File.WriteAllText(MasterKeyFile, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        }

        AuditPath = auditPath ?? Path.Combine(Root, "data", "audit.log");
        RootTokenFile = Path.Combine(Root, "secrets", "root-token");
        ConfigFile = Path.Combine(Root, "kms.json");
        File.WriteAllText(ConfigFile, ConfigJson(Path.Combine(Root, "data", "kms.db"), MasterKeyFile, AuditPath, RootTokenFile, "127.0.0.1:0"));
        Factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseSetting("Kms:ConfigFile", ConfigFile));
        if (kestrelPort is { } port)
        {
            Address = new Uri($"http://127.0.0.1:{port}/");
            Factory.UseKestrel(o => o.Listen(System.Net.IPAddress.Loopback, port));
            Factory.StartServer();
            Client = Factory.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = Address });
        }
        else
        {
            Client = Factory.CreateClient();
        }

        if (withMasterKey)
        {
            RootToken = File.ReadAllText(RootTokenFile).Trim();
        }
    }

    public string Root { get; }
    public string MasterKeyFile { get; }
    public string AuditPath { get; }
    public string RootTokenFile { get; }
    public string ConfigFile { get; }
    public WebApplicationFactory<Program> Factory { get; }
    public HttpClient Client { get; }

    /// <summary>The Kestrel address when started with a port; null for the in-memory test server.</summary>
    public Uri? Address { get; }
    public string RootToken { get; } = "";

    public static string ConfigJson(string dbPath, string masterKeyFile, string auditPath, string rootTokenFile, string address) =>
        new JsonObject
        {
            ["listener"] = new JsonObject { ["tcp"] = new JsonObject { ["address"] = address } },
            ["storage"] = new JsonObject { ["sqlite"] = new JsonObject { ["path"] = dbPath } },
            ["master_key"] = new JsonObject { ["file"] = masterKeyFile },
            ["audit"] = new JsonObject { ["file"] = new JsonObject { ["path"] = auditPath } },
            ["root_token_file"] = rootTokenFile,
        }.ToJsonString();

    public Task<VaultReply> Send(string method, string path, string? token, object? body = null) => VaultReply.Send(Client, method, path, token, body);

    public Task<VaultReply> AsRoot(string method, string path, object? body = null) => Send(method, path, RootToken, body);

    /// <summary>Creates a token with the given policies through the API, as an operator would.</summary>
    public async Task<string> TokenWith(params string[] policies)
    {
        var reply = await AsRoot("POST", "auth/token/create", new { policies });
        Assert.Equal(200, reply.Status);
        return reply.Body!["auth"]!["client_token"]!.GetValue<string>();
    }

    public void Dispose()
    {
        Client.Dispose();
        Factory.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // SQLite may still hold the WAL for a moment after dispose; the temp dir is reclaimed by the OS.
        }
    }
}

/// <summary>Status, raw text and parsed JSON of one Vault HTTP exchange.</summary>
public sealed record VaultReply(int Status, string Text, JsonNode? Body)
{
    public static async Task<VaultReply> Send(HttpClient client, string method, string path, string? token, object? body = null)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), "/v1/" + path);
        if (token is not null)
        {
            request.Headers.Add("X-Vault-Token", token);
        }

        if (body is string text)
        {
            request.Content = new StringContent(text, Encoding.UTF8, "application/json");
        }
        else if (body is not null)
        {
            request.Content = new StringContent(System.Text.Json.JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }

        using var response = await client.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();
        return new VaultReply((int)response.StatusCode, raw, raw.Length == 0 ? null : JsonNode.Parse(raw));
    }

    public JsonNode Data => Body!["data"]!;

    public string[] Errors => [.. Body!["errors"]!.AsArray().Select(e => e!.GetValue<string>())];
}
