extern alias formapi;

using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using MySqlConnector;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;

using FormApiProgram = formapi::Program;

namespace Pii.FormApi.Tests;

[CollectionDefinition(Name)]
public sealed class FormApiGroup : ICollectionFixture<FormApiFixture>
{
    public const string Name = "FormApi against MariaDB and the key service";
}

/// <summary>
/// The real parts, started by DCP with the AppHost's hosting integrations (LocalResources): the key service with the <c>dnc</c> transit
/// key and the two FormApi tokens (policies dnc-intake, dnc-backoffice), MariaDB with the <c>dnc</c> database and the
/// two users the AppHost declares (dnc_intake insert-only, dnc_backoffice owner). Both FormApi instances boot the real
/// Program through WebApplicationFactory with the configuration keys the AppHost injects. The back office starts first
/// (it owns the migrations), as the intake's health check expects.
/// </summary>
public sealed class FormApiFixture : IAsyncLifetime
{
    public static readonly string[] Roles = ["agent", "supervisor", "auditor", "admin"];

    private LocalResources? _resources;
    private readonly List<IDisposable> _factories = [];

    public IResourceBuilder<MariaDbLoginResource> IntakeDb { get; private set; } = null!;

    public IResourceBuilder<MariaDbLoginResource> OwnerDb { get; private set; } = null!;

    public KeyServiceToken IntakeToken { get; private set; } = null!;

    public KeyServiceToken BackofficeToken { get; private set; } = null!;

    public IResourceBuilder<ProjectResource> KeyService { get; private set; } = null!;

    public IResourceBuilder<MariaDbServerResource> MariaDb { get; private set; } = null!;

    /// <summary>The started servers, for tests that stop and restart one of them.</summary>
    public LocalResources Resources => _resources!;

    public Dictionary<string, string> ApiKeys { get; } = Roles.ToDictionary(r => r, r => "pii_test_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));

    public WebApplicationFactory<FormApiProgram> Intake { get; private set; } = null!;

    public WebApplicationFactory<FormApiProgram> Backoffice { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var model = LocalResources.CreateBuilder("formapi");
        KeyService = model.AddKeyService("vault").AddTransitKey("dnc");
        MariaDb = model.AddMariaDb("mysql");
        var dnc = MariaDb.AddDatabase("dnc");
        IntakeDb = dnc.AddUser("dnc_intake", MySqlAccess.InsertOnly);
        OwnerDb = dnc.AddUser("dnc_backoffice", MySqlAccess.Owner);
        IntakeToken = KeyService.AddToken("formapi", "dnc-intake");
        BackofficeToken = KeyService.AddToken("formapi-backoffice", "dnc-backoffice");
        _resources = await LocalResources.StartAsync(model, TimeSpan.FromMinutes(5));

        // Re-encryption jobs are stepped by hand here (resumability test); KeyRotationTests starts a back office with the worker on.
        Backoffice = CreateBackoffice(new Dictionary<string, string> { ["FormApi:ReencryptionInBackground"] = "false", ["FormApi:ReencryptionBatchSize"] = "3" });
        using (var client = Backoffice.CreateClient())
        {
            (await client.GetAsync("/health")).EnsureSuccessStatusCode();
        }
        // As the AppHost does once the back office is ready.
        await dnc.Resource.GrantAsync("dnc_intake", ServiceGrants.FormApiIntake, CancellationToken.None);
        Intake = CreateIntake();
    }

    public WebApplicationFactory<FormApiProgram> CreateIntake(IReadOnlyDictionary<string, string>? settings = null, int? kestrelPort = null)
    {
        var all = new Dictionary<string, string>(settings ?? new Dictionary<string, string>());
        if (kestrelPort is { } port)
        {
            all["urls"] = $"http://127.0.0.1:{port}";
        }
        var factory = Create("intake", IntakeDb, IntakeToken, all);
        if (kestrelPort is not null)
        {
            factory.UseKestrel();
        }
        _factories.Add(factory);
        return factory;
    }

    public WebApplicationFactory<FormApiProgram> CreateBackoffice(IReadOnlyDictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string>(settings ?? new Dictionary<string, string>());
        foreach (var (role, key) in ApiKeys)
        {
            all[$"Auth:ApiKeyHashes:{role}"] = ApiKeyHash(key);
        }
        var factory = Create("backoffice", OwnerDb, BackofficeToken, all);
        _factories.Add(factory);
        return factory;
    }

    public HttpClient BackofficeClient(string? role)
    {
        var client = Backoffice.CreateClient();
        if (role is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", ApiKeys[role]);
        }
        return client;
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static string SeedBody(string phone = "+15551234567", string email = "alice@example.com", string first = "Alice") =>
        $$"""{"first_name":"{{first}}","middle_name":"M","last_name":"Doe","phone":"{{phone}}","email":"{{email}}","phone_dnc":true,"email_dnc":false}""";

    /// <summary>A phone number no other test uses (the suite shares one database).</summary>
    public static string UniquePhone() => "+1555" + RandomNumberGenerator.GetInt32(1_000_000, 9_999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public async Task<Guid> SubmitAsync(string body)
    {
        using var client = Intake.CreateClient();
        using var response = await client.PostAsync("/api/dnc", Json(body));
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        return created.GetProperty("id").GetGuid();
    }

    public async Task<MySqlConnection> OpenOwnerAsync()
    {
        var connection = new MySqlConnection(OwnerDb.Resource.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public static string ApiKeyHash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public async Task DisposeAsync()
    {
        foreach (var factory in _factories)
        {
            factory.Dispose();
        }
        if (_resources is not null)
        {
            await _resources.DisposeAsync();
        }
    }

    private WebApplicationFactory<FormApiProgram> Create(string instance, IResourceBuilder<MariaDbLoginResource> database, KeyServiceToken token, IReadOnlyDictionary<string, string>? settings) =>
        new WebApplicationFactory<FormApiProgram>().WithWebHostBuilder(builder =>
        {
            builder.UseEnvironment("Development");
            builder.UseSetting("ConnectionStrings:dnc", database.Resource.ConnectionString);
            builder.UseSetting("VAULT_ADDR", KeyService.Address());
            builder.UseSetting("VAULT_TOKEN", token.Token);
            builder.UseSetting("services:vault:http:0", KeyService.Address());
            builder.UseSetting("FormApi:Instance", instance);
            builder.UseSetting("FormApi:RateLimitBurst", "100000");
            builder.UseSetting("FormApi:RateLimitPerSecond", "100000");
            builder.UseSetting("FormApi:GlobalRateLimitBurst", "100000");
            builder.UseSetting("FormApi:GlobalRateLimitPerSecond", "100000");
            foreach (var (key, value) in settings ?? new Dictionary<string, string>())
            {
                builder.UseSetting(key, value);
            }
        });
}
