using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Pii.AppHost.Hosting;

namespace Pii.AppHost.Tests.Hosting;

/// <summary>External resources, generated secrets, and the environment a project receives.</summary>
public sealed class ConfigurationTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Fact]
    public async Task An_external_S3_endpoint_is_probed_and_used_but_not_launched()
    {
        // The "external" S3 is a real s3rver that another launcher runs.
        var realModel = LocalResources.CreateModel("s3-real");
        realModel.AddS3rver("s3").AddBucket("documents");
        await using var real = await LocalResources.StartAsync(realModel);
        var url = ((S3Server)real["s3"]).ServiceUrl;

        var model = LocalResources.CreateModel("s3-ext", Config(("Resources:s3:Endpoint", url), ("Resources:s3:AccessKey", "S3RVER"), ("Resources:s3:SecretKey", "S3RVER")));
        var s3 = model.AddS3rver("s3");
        var documents = s3.AddBucket("documents");
        await using var external = await LocalResources.StartAsync(model);

        Assert.Equal("External", s3.Type);
        Assert.Null(s3.Process);
        Assert.Null(s3.Child);
        Assert.Equal(ResourceStates.Running, s3.State);
        Assert.Equal(HealthStates.Healthy, s3.Health);
        Assert.Equal($"Endpoint={url};AccessKey=S3RVER;SecretKey=S3RVER;Bucket=documents", documents.ConnectionString);
    }

    [Fact]
    public void External_databases_and_key_service_are_not_launched_and_their_connection_strings_pass_through()
    {
        var model = LocalResources.CreateModel("ext", Config(
            ("Resources:postgres:ConnectionString", "Host=db.example;Port=5432;Username=app;Password=secret"),
            ("Resources:mysql:ConnectionString", "Server=mysql.example;Port=3306;User ID=app;Password=secret"),
            ("Resources:vault:Url", "https://vault.example:8200/"),
            ("Resources:vault:Token", "hvs.operator")));
        var postgres = model.AddPostgres("postgres");
        var records = postgres.AddDatabase("records").AddUser("documentservice", new PostgresAccess.SchemaOwner("documents"));
        var mysql = model.AddMariaDb("mysql");
        var dnc = mysql.AddDatabase("dnc").AddUser("dnc_intake", MySqlAccess.InsertOnly);
        var vault = model.AddKeyService("vault");
        var token = vault.AddToken("formapi", "dnc-intake");
        Directory.Delete(Path.GetDirectoryName(model.Options.DataRoot)!, recursive: true);

        Assert.All(new Resource[] { postgres, mysql, vault }, r =>
        {
            Assert.Equal("External", r.Type);
            Assert.Null(r.Process);
        });
        Assert.Contains("Host=db.example", records.ConnectionString, StringComparison.Ordinal);
        Assert.Contains("Database=records", records.ConnectionString, StringComparison.Ordinal);
        Assert.Contains("database=dnc", dnc.ConnectionString, StringComparison.OrdinalIgnoreCase);
        var environment = new Dictionary<string, string?>();
        token.ApplyTo(environment);
        Assert.Equal("https://vault.example:8200", environment["VAULT_ADDR"]);
        Assert.Equal("https://vault.example:8200", environment["services__vault__http__0"]);
        Assert.StartsWith("hvs.", environment["VAULT_TOKEN"], StringComparison.Ordinal);
    }

    [Fact]
    public void Secrets_are_created_once_with_mode_0600_in_a_0700_folder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "piiaspire-secrets-" + Guid.NewGuid().ToString("N")[..12]);
        try
        {
            var store = new SecretStore(folder);
            var first = store.GetOrCreate("postgres-password");
            Assert.Equal(first, new SecretStore(folder).GetOrCreate("postgres-password"));
            Assert.True(first.Length >= 43);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.PathOf("postgres-password")));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));

            var configured = new SecretStore(folder, Config(("Parameters:mysql-root-password", "chosen-by-operator")));
            Assert.Equal("chosen-by-operator", configured.GetOrCreate("mysql-root-password"));
            Assert.False(File.Exists(configured.PathOf("mysql-root-password")));

            var keys = new ApiKeys(store);
            var backoffice = keys.Ensure("formapi-backoffice", ["agent", "admin"]);
            keys.Ensure("etlworker", ["dialer"]);
            Assert.Equal(backoffice["agent"], keys.Ensure("formapi-backoffice", ["agent"])["agent"]);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.PathOf(ApiKeys.FileName)));
            var file = JsonSerializer.Deserialize<Dictionary<string, Dictionary<string, string>>>(File.ReadAllText(store.PathOf(ApiKeys.FileName)))!;
            Assert.Equal(backoffice["admin"], file["formapi-backoffice"]["admin"]);
            Assert.Equal(["dialer"], file["etlworker"].Keys);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_project_gets_exactly_the_variables_a_real_AppHost_injects()
    {
        var root = Path.Combine(Path.GetTempPath(), "piiaspire-env-" + Guid.NewGuid().ToString("N")[..12]);
        var model = new AppModel(new AppModelOptions
        {
            RepoRoot = AppModel.FindRepoRoot(),
            DataRoot = Path.Combine(root, "data"),
            SecretsRoot = Path.Combine(root, "secrets"),
            OtlpEndpoint = "http://localhost:18890",
            OtlpApiKey = "otlp-key",
            BuildProjects = false,
        });
        try
        {
            var records = model.AddPostgres("postgres").AddDatabase("records");
            var vault = model.AddKeyService("vault");
            var kmsUser = vault.AddToken("documentservice", "documents");
            var documents = model.AddS3rver("s3").AddBucket("documents");
            var peer = model.AddService("formapi", "services/FormApi/FormApi.csproj");
            var service = model.AddService("documentservice", "services/DocumentService/DocumentService.csproj")
                .WithReference(records.AddUser("documentservice", new PostgresAccess.SchemaOwner("documents")))
                .WithReference(documents)
                .WithReference(kmsUser)
                .WithReference(peer);

            var environment = service.ComputeEnvironment();

            Assert.Equal(service.HttpEndpoint.Url, environment["ASPNETCORE_URLS"]);
            Assert.StartsWith("http://localhost:", environment["ASPNETCORE_URLS"], StringComparison.Ordinal);
            Assert.Equal("Development", environment["ASPNETCORE_ENVIRONMENT"]);
            Assert.Equal("documentservice", environment["OTEL_SERVICE_NAME"]);
            Assert.Matches("^service.instance.id=[a-z]{8}$", environment["OTEL_RESOURCE_ATTRIBUTES"]);
            Assert.Equal("http://localhost:18890", environment["OTEL_EXPORTER_OTLP_ENDPOINT"]);
            Assert.Equal("http/protobuf", environment["OTEL_EXPORTER_OTLP_PROTOCOL"]);
            Assert.Equal("x-otlp-api-key=otlp-key", environment["OTEL_EXPORTER_OTLP_HEADERS"]);
            Assert.Equal(peer.HttpEndpoint.Url, environment["services__formapi__http__0"]);
            Assert.Equal(peer.HttpEndpoint.Url, environment["FORMAPI_HTTP"]);
            Assert.Equal("documentservice", environment["RECORDS_USERNAME"]);
            Assert.Equal("records", environment["RECORDS_DATABASENAME"]);
            Assert.Equal("127.0.0.1", environment["RECORDS_HOST"]);
            Assert.Equal($"postgresql://documentservice:{environment["RECORDS_PASSWORD"]}@127.0.0.1:{environment["RECORDS_PORT"]}/records", environment["RECORDS_URI"]);
            Assert.Matches("^Host=127.0.0.1;Port=[0-9]+;Username=documentservice;Password=[A-Za-z0-9_-]+;Database=records$", environment["ConnectionStrings__records"]);
            Assert.Matches("^Endpoint=http://127.0.0.1:[0-9]+;AccessKey=S3RVER;SecretKey=S3RVER;Bucket=documents$", environment["ConnectionStrings__documents"]);
            Assert.Equal(vault.Address, environment["VAULT_ADDR"]);
            Assert.Equal(vault.Address, environment["services__vault__http__0"]);
            Assert.Equal(File.ReadAllText(model.Secrets.PathOf("vault-token-documentservice")), environment["VAULT_TOKEN"]);
            Assert.DoesNotContain(environment.Keys, k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal) && k is not ("ConnectionStrings__records" or "ConnectionStrings__documents"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

public sealed class CommandLineTests
{
    [Fact]
    public void Reset_with_yes_wipes_the_data_folder_and_starts_fresh()
    {
        var root = Path.Combine(Path.GetTempPath(), "piiaspire-reset-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(root, "data", "postgres"));
        File.WriteAllText(Path.Combine(root, "data", "postgres", "PG_VERSION"), "15");
        try
        {
            using var host = AppHostRunner.Parse(["--reset", "--yes", "--data-dir", root, "--Dashboard:UiUrl=http://localhost:19999"]);
            var model = host.TryCreateModel();

            Assert.NotNull(model);
            Assert.False(File.Exists(Path.Combine(root, "data", "postgres", "PG_VERSION")));
            Assert.Equal("http://localhost:19999/login?t=" + File.ReadAllText(Path.Combine(root, "secrets", "dashboard-token")), host.Dashboard.LoginUrl);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(root, "secrets", "otlp-api-key")));

            using var second = AppHostRunner.Parse(["--data-dir", root]);
            Assert.Null(second.TryCreateModel());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
