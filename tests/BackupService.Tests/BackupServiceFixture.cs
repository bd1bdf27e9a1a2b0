extern alias backupservice;
extern alias documentservice;

using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Amazon.S3;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;
using Pii.Crypto.Keys;

namespace Pii.BackupService.Tests;

/// <summary>
/// Everything the tests start, in one place (so it can move to other hosting code as a whole): real PostgreSQL
/// (records, analytics), MariaDB (dnc), s3rver (buckets backups, documents) and the key service (transit keys backups,
/// documents) started by DCP with the AppHost's hosting integrations, with the identities the AppHost gives BackupService (read-all logins,
/// dnc_backup, token with policy backups, role operator) and DocumentService; restore logins are the servers'
/// administrators. The offline recovery key pair is made by <see cref="RecoveryKeyFiles"/> as the AppHost does. Both
/// services run as their real Program on Kestrel.
/// </summary>
public sealed class BackupServiceFixture : IAsyncLifetime
{
    public static readonly string OperatorKey = "pii_operator_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
    public static readonly string ClinicianKey = "pii_clinician_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
    public static readonly string AdminKey = "pii_admin_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

    private LocalResources? _resources;
    private IResourceBuilder<S3BucketResource>? _backups;

    public WebApplicationFactory<backupservice::Program> Backups { get; private set; } = null!;
    public WebApplicationFactory<documentservice::Program> Documents { get; private set; } = null!;
    public Uri BackupsAddress { get; private set; } = null!;
    public Uri DocumentsAddress { get; private set; } = null!;
    public LocalResources Resources => _resources!;

    public string SecretsDirectory { get; } = Directory.CreateTempSubdirectory("pii-backup-secrets-").FullName;
    public string RecoveryPrivateKeyFile => Path.Combine(SecretsDirectory, "recovery-private.pem");
    public string RecoveryPassphraseFile => Path.Combine(SecretsDirectory, "recovery-passphrase");
    public string RecoveryPublicKeyFile => Path.Combine(SecretsDirectory, "recovery-public.pem");

    /// <summary>The administrators' logins (what a restore writes with here) and the services' own.</summary>
    public string PostgresAdmin { get; private set; } = "";
    public string MariaDbAdmin { get; private set; } = "";
    public string RecordsAdmin { get; private set; } = "";
    public string AnalyticsAdmin { get; private set; } = "";
    public string DncAdmin { get; private set; } = "";
    public string S3Endpoint { get; private set; } = "";

    /// <summary>DocumentService's key-service token (policy documents): a token without snapshot rights.</summary>
    public string DocumentsToken { get; private set; } = "";

    public Dictionary<string, string?> Settings { get; } = new()
    {
        ["BackupService:PartSize"] = (5 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["BackupService:FrameLength"] = "65536",
        ["BackupService:SchedulerEnabled"] = "false",
        ["BackupService:Retention:MinAge"] = "00:00:00",
        ["BackupService:ErasureHarvestInterval"] = "00:00:05",
    };

    public async Task InitializeAsync()
    {
        RecoveryKeyFiles.EnsureCreated(RecoveryPrivateKeyFile, RecoveryPassphraseFile, RecoveryPublicKeyFile);
        var model = LocalResources.CreateBuilder("backups");
        var vault = model.AddKeyService("vault").AddTransitKey("backups").AddTransitKey("documents");
        var postgres = model.AddPostgres("postgres");
        var records = postgres.AddDatabase("records");
        var analytics = postgres.AddDatabase("analytics");
        var recordsLogin = records.AddUser("backupservice", new PostgresAccess.ReadAll());
        var analyticsLogin = analytics.AddUser("backupservice", new PostgresAccess.ReadAll());
        var documentsLogin = records.AddUser("documentservice", new PostgresAccess.SchemaOwner("documents"));
        var mariadb = model.AddMariaDb("mariadb");
        var dnc = mariadb.AddDatabase("dnc");
        var dncLogin = dnc.AddUser("dnc_backup", MySqlAccess.Backup);
        var s3 = model.AddS3rver("s3");
        _backups = s3.AddBucket("backups");
        var documentsBucket = s3.AddBucket("documents");
        var backupToken = vault.AddToken("backupservice", "backups");
        var documentsToken = vault.AddToken("documentservice", "documents");
        _resources = await LocalResources.StartAsync(model, TimeSpan.FromMinutes(5));

        PostgresAdmin = postgres.Resource.AdminConnectionString;
        MariaDbAdmin = mariadb.Resource.AdminConnectionString;
        RecordsAdmin = records.Resource.ConnectionString;
        AnalyticsAdmin = analytics.Resource.ConnectionString;
        DncAdmin = dnc.Resource.ConnectionString;
        S3Endpoint = s3.Resource.ServiceUrl;
        DocumentsToken = documentsToken.Token;

        Settings["ConnectionStrings:records"] = recordsLogin.Resource.ConnectionString;
        Settings["ConnectionStrings:analytics"] = analyticsLogin.Resource.ConnectionString;
        Settings["ConnectionStrings:dnc"] = dncLogin.Resource.ConnectionString;
        Settings["ConnectionStrings:backups"] = _backups.Resource.ConnectionString;
        Settings["ConnectionStrings:restore-postgres"] = PostgresAdmin;
        Settings["ConnectionStrings:restore-mariadb"] = MariaDbAdmin;
        Settings["VAULT_ADDR"] = vault.Address();
        Settings["VAULT_TOKEN"] = backupToken.Token;
        Settings["BackupService:RecoveryPublicKeyFile"] = RecoveryPublicKeyFile;
        Settings["BackupService:ManifestKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        Settings["Auth:ApiKeyHashes:operator"] = ApiKeys.Hash(OperatorKey);

        Backups = Start(new WebApplicationFactory<backupservice::Program>(), Settings, out var backupsAddress);
        BackupsAddress = backupsAddress;
        Documents = Start(new WebApplicationFactory<documentservice::Program>(), new Dictionary<string, string?>
        {
            ["ConnectionStrings:records"] = documentsLogin.Resource.ConnectionString,
            ["ConnectionStrings:documents"] = documentsBucket.Resource.ConnectionString,
            ["VAULT_ADDR"] = vault.Address(),
            ["VAULT_TOKEN"] = documentsToken.Token,
            ["DocumentService:ApplicationKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["DocumentService:RecoveryPublicKeyFile"] = RecoveryPublicKeyFile,
            ["Auth:ApiKeyHashes:clinician"] = ApiKeys.Hash(ClinicianKey),
            ["Auth:ApiKeyHashes:records-admin"] = ApiKeys.Hash(AdminKey),
        }, out var documentsAddress);
        DocumentsAddress = documentsAddress;
        // The documents schema exists once DocumentService answers.
        using var probe = DocumentsClient();
        await probe.GetAsync("/api/patients?mrn=none");
    }

    private static WebApplicationFactory<T> Start<T>(WebApplicationFactory<T> factory, Dictionary<string, string?> settings, out Uri address) where T : class
    {
        var configured = factory.WithWebHostBuilder(builder =>
        {
            foreach (var (key, value) in settings) builder.UseSetting(key, value);
            builder.UseEnvironment("Development");
            builder.UseSetting(WebHostDefaults.ServerUrlsKey, "http://127.0.0.1:0");
        });
        configured.UseKestrel(0);
        configured.StartServer();
        var addresses = configured.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        address = new Uri(addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("localhost", "127.0.0.1", StringComparison.Ordinal));
        return configured;
    }

    public HttpClient Client(string? apiKey = null)
    {
        var client = new HttpClient { BaseAddress = BackupsAddress, Timeout = TimeSpan.FromMinutes(5) };
        client.DefaultRequestHeaders.Add("X-Api-Key", apiKey ?? OperatorKey);
        return client;
    }

    public HttpClient DocumentsClient(string? apiKey = null)
    {
        var client = new HttpClient { BaseAddress = DocumentsAddress, Timeout = TimeSpan.FromMinutes(5) };
        client.DefaultRequestHeaders.Add("X-Api-Key", apiKey ?? ClinicianKey);
        return client;
    }

    public T Service<T>() where T : notnull => Backups.Services.GetRequiredService<T>();

    public AmazonS3Client S3() => backupservice::Pii.Services.Shared.S3BucketConnection.Parse(_backups!.Resource.ConnectionString).CreateClient();

    /// <summary>Starts a backup through the API and returns its id.</summary>
    public async Task<Guid> StartBackupAsync(string source)
    {
        using var client = Client();
        using var response = await client.PostAsJsonAsync("/api/backups", new { source });
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        return Guid.Parse((await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>());
    }

    /// <summary>Polls the backup until it is no longer running (a condition, not a fixed wait).</summary>
    public async Task<JsonObject> WaitForBackupAsync(Guid id, TimeSpan? timeout = null)
    {
        using var client = Client();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(3));
        while (true)
        {
            var backup = (await client.GetFromJsonAsync<JsonObject>($"/api/backups/{id}"))!;
            if (backup["state"]!.GetValue<string>() != "running") return backup;
            Assert.True(DateTime.UtcNow < deadline, $"Backup {id} still running.");
            await Task.Delay(200);
        }
    }

    public async Task<JsonObject> BackUpAsync(string source)
    {
        var backup = await WaitForBackupAsync(await StartBackupAsync(source));
        Assert.True(backup["state"]!.GetValue<string>() == "completed", backup.ToJsonString());
        return backup;
    }

    public async Task<List<string>> KeysAsync(string prefix)
    {
        using var s3 = S3();
        var page = await s3.ListObjectsV2Async(new Amazon.S3.Model.ListObjectsV2Request { BucketName = "backups", Prefix = prefix });
        return [.. (page.S3Objects ?? []).Select(o => o.Key)];
    }

    public async Task DisposeAsync()
    {
        if (Backups is not null) await Backups.DisposeAsync();
        if (Documents is not null) await Documents.DisposeAsync();
        if (_resources is not null) await _resources.DisposeAsync();
        Directory.Delete(SecretsDirectory, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class BackupServiceGroup : ICollectionFixture<BackupServiceFixture>
{
    public const string Name = "BackupService";
}
