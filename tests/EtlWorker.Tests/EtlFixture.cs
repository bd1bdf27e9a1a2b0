using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MySqlConnector;
using Npgsql;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;
using Pii.Crypto.Fields;

namespace Pii.EtlWorker.Tests;

/// <summary>
/// Real MariaDB (database dnc: the test creates the FormApi's schema from dnc-schema.sql; the ETL reads as dnc_etl,
/// SELECT only), real PostgreSQL (analytics, login etlworker owning schema suppression) and the real key service
/// (keys dnc and suppression-index, token policy etl), started by DCP with the AppHost's hosting integrations. Shared by every test of the
/// collection; <see cref="ResetAsync"/> empties the source and drops the suppression schema between tests.
/// </summary>
public sealed class EtlFixture : IAsyncLifetime
{
    private LocalResources? _resources;
    private IDistributedApplicationBuilder _model = null!;
    private IResourceBuilder<MariaDbDatabaseResource> _dnc = null!;
    private IResourceBuilder<PostgresDatabaseResource> _analytics = null!;
    private IResourceBuilder<ProjectResource> _vault = null!;
    private KeyServiceToken _etlToken = null!;
    private IResourceBuilder<MariaDbLoginResource> _source = null!;
    private IResourceBuilder<PostgresLoginResource> _target = null!;

    public string SourceConnectionString => _source.Resource.ConnectionString;

    /// <summary>The worker's read-only source, as the worker opens it (a MySqlConnector data source).</summary>
    public MySqlDataSource SourceDataSource { get; private set; } = null!;

    public string SourceAdminConnectionString => _dnc.Resource.ConnectionString;

    public string TargetConnectionString => _target.Resource.ConnectionString;

    public string TargetAdminConnectionString => _analytics.Resource.ConnectionString;

    public string VaultAddress => _vault.Address();

    public string EtlToken => _etlToken.Token;

    public string RootToken => _vault.RootToken();

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The started servers, for tests that stop and restart one of them.</summary>
    public LocalResources Resources => _resources!;

    public async Task InitializeAsync()
    {
        _model = LocalResources.CreateBuilder("etl");
        _vault = _model.AddKeyService("vault").AddTransitKey("dnc").AddTransitKey("suppression-index");
        _etlToken = _vault.AddToken("etlworker", "etl");
        _analytics = _model.AddPostgres("postgres").AddDatabase("analytics");
        _target = _analytics.AddUser("etlworker", new PostgresAccess.SchemaOwner("suppression"));
        _dnc = _model.AddMariaDb("mysql").AddDatabase("dnc");
        _source = _dnc.AddUser("dnc_etl", MySqlAccess.ReadOnly);
        _resources = await LocalResources.StartAsync(_model, TimeSpan.FromMinutes(6));
        SourceDataSource = new MySqlDataSource(SourceConnectionString);
        await using var admin = new MySqlConnection(SourceAdminConnectionString);
        await admin.OpenAsync();
        var schema = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "dnc-schema.sql"));
        foreach (var statement in schema.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            await new MySqlCommand(statement, admin).ExecuteNonQueryAsync();
        }
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        if (SourceDataSource is not null) await SourceDataSource.DisposeAsync();
        if (_resources is not null) await _resources.DisposeAsync();
    }

    /// <summary>Empties the DNC tables and gives the worker a fresh suppression schema.</summary>
    public async Task ResetAsync()
    {
        await using (var admin = new MySqlConnection(SourceAdminConnectionString))
        {
            await admin.OpenAsync();
            foreach (var table in (string[])["dnc_preferences", "dnc_erasures", "encryption_keys"])
            {
                await new MySqlCommand($"TRUNCATE TABLE {table}", admin).ExecuteNonQueryAsync();
            }
        }

        await using var target = new NpgsqlConnection(TargetAdminConnectionString);
        await target.OpenAsync();
        await new NpgsqlCommand("DROP SCHEMA IF EXISTS suppression CASCADE; CREATE SCHEMA suppression AUTHORIZATION etlworker", target).ExecuteNonQueryAsync();
    }

    /// <summary>Sends a key-service request with the given token; returns status and JSON body.</summary>
    public async Task<(int Status, JsonNode? Body)> VaultAsync(string path, JsonObject body, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{VaultAddress}/v1/{path}") { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Vault-Token", token);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>A DEK made the way the FormApi intake makes it (datakey/plaintext/dnc, here with the root token), stored wrapped.</summary>
    public async Task<FieldKey> CreateDekAsync()
    {
        var (status, body) = await VaultAsync("transit/datakey/plaintext/dnc", new JsonObject { ["bits"] = 256 }, RootToken);
        Assert.Equal(200, status);
        var data = body!["data"]!;
        var wrapped = data["ciphertext"]!.GetValue<string>();
        var plaintext = Convert.FromBase64String(data["plaintext"]!.GetValue<string>());
        await using var admin = new MySqlConnection(SourceAdminConnectionString);
        await admin.OpenAsync();
        var insert = new MySqlCommand(
            "INSERT INTO encryption_keys (purpose, kek_name, kek_version, wrapped_dek, created_at) VALUES ('dnc', 'dnc', @v, @w, UTC_TIMESTAMP(6))", admin);
        insert.Parameters.AddWithValue("@v", data["key_version"]!.GetValue<int>());
        insert.Parameters.AddWithValue("@w", wrapped);
        await insert.ExecuteNonQueryAsync();
        try
        {
            return FieldKey.FromDek((int)insert.LastInsertedId, plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>The suppression index the ETL should have stored, computed independently with the root token.</summary>
    public async Task<byte[]> ExpectedIndexAsync(string input)
    {
        var (status, body) = await VaultAsync("transit/hmac/suppression-index/sha2-256",
            new JsonObject { ["input"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(input)), ["key_version"] = 1 }, RootToken);
        Assert.Equal(200, status);
        var hmac = body!["data"]!["hmac"]!.GetValue<string>();
        return Convert.FromBase64String(hmac["vault:v1:".Length..]);
    }
}

[CollectionDefinition(Name)]
public sealed class EtlServers : ICollectionFixture<EtlFixture>
{
    public const string Name = "etl";
}
