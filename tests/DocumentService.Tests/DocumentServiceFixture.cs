extern alias documentservice;

using System.Net.Http.Json;
using System.Security.Cryptography;
using Amazon.S3;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;

namespace Pii.DocumentService.Tests;

/// <summary>
/// Real PostgreSQL, s3rver and key service started by DCP with the AppHost's hosting integrations (LocalResources), with the same identities the
/// AppHost declares (login <c>documentservice</c> owning schema <c>documents</c>, token bound to policy
/// <c>documents</c>), and the real Program on Kestrel (WebApplicationFactory.UseKestrel) so tests use real sockets.
/// </summary>
public sealed class DocumentServiceFixture : IAsyncLifetime
{
    public static readonly string ClinicianKey = "pii_clinician_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
    public static readonly string AdminKey = "pii_admin_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
    public static readonly string AuditorKey = "pii_auditor_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

    private LocalResources? _resources;
    private IResourceBuilder<S3BucketResource>? _bucket;

    public WebApplicationFactory<documentservice::Program> Factory { get; private set; } = null!;
    public Uri BaseAddress { get; private set; } = null!;
    public LocalResources Resources => _resources!;
    public string BucketConnectionString => _bucket!.Resource.ConnectionString;

    /// <summary>Where s3rver keeps its objects (tests look at the multipart parts it holds).</summary>
    public string S3DataDirectory => _bucket!.Resource.Parent.DataDirectory;

    /// <summary>Small settings so multi-part and sweeper paths run on test-sized files.</summary>
    public Dictionary<string, string?> Settings { get; } = new()
    {
        ["DocumentService:PartSize"] = (5 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["DocumentService:KeyCacheTimeToLive"] = "00:10:00",
        ["DocumentService:MaxUploadBytes"] = (200L * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public async Task InitializeAsync()
    {
        var model = LocalResources.CreateBuilder("docs");
        var vault = model.AddKeyService("vault").AddTransitKey("documents");
        var login = model.AddPostgres("postgres").AddDatabase("records").AddUser("documentservice", new PostgresAccess.SchemaOwner("documents"));
        _bucket = model.AddS3rver("s3").AddBucket("documents");
        var token = vault.AddToken("documentservice", "documents");
        _resources = await LocalResources.StartAsync(model, TimeSpan.FromMinutes(5));

        Settings["ConnectionStrings:records"] = login.Resource.ConnectionString;
        Settings["ConnectionStrings:documents"] = _bucket.Resource.ConnectionString;
        Settings["VAULT_ADDR"] = vault.Address();
        Settings["VAULT_TOKEN"] = token.Token;
        Settings["DocumentService:ApplicationKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        Settings["Auth:ApiKeyHashes:clinician"] = ApiKeys.Hash(ClinicianKey);
        Settings["Auth:ApiKeyHashes:records-admin"] = ApiKeys.Hash(AdminKey);
        Settings["Auth:ApiKeyHashes:auditor"] = ApiKeys.Hash(AuditorKey);

        Factory = new WebApplicationFactory<documentservice::Program>().WithWebHostBuilder(builder =>
        {
            foreach (var (key, value) in Settings) builder.UseSetting(key, value);
            builder.UseEnvironment("Development");
            // A free port chosen by the OS: UseKestrel(0) alone leaves the default localhost:5000, which another test run may hold.
            builder.UseSetting(WebHostDefaults.ServerUrlsKey, "http://127.0.0.1:0");
            builder.ConfigureLogging(logging => logging.AddProvider(new FileLoggerProvider(Path.Combine(Path.GetTempPath(), "documentservice-tests.log"))));
        });
        Factory.UseKestrel(0);
        Factory.StartServer();
        var addresses = Factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseAddress = new Uri(addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("localhost", "127.0.0.1", StringComparison.Ordinal));
    }

    public HttpClient Client(string? apiKey = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        client.DefaultRequestHeaders.Add("X-Api-Key", apiKey ?? ClinicianKey);
        return client;
    }

    public AmazonS3Client S3()
    {
        return documentservice::Pii.Services.Shared.S3BucketConnection.Parse(BucketConnectionString).CreateClient();
    }

    /// <summary>The S3 key of a document's ciphertext object.</summary>
    public async Task<string> ObjectKeyAsync(Guid documentId)
    {
        await using var connection = new NpgsqlConnection(Settings["ConnectionStrings:records"]);
        return await connection.QuerySingleAsync<string>("SELECT object_key FROM documents.documents WHERE id = @id", new { id = documentId });
    }

    /// <summary>The stored ciphertext object, read straight from S3.</summary>
    public async Task<byte[]> StoredObjectAsync(string key)
    {
        using var s3 = S3();
        using var stored = await s3.GetObjectAsync("documents", key);
        using var buffer = new MemoryStream();
        await stored.ResponseStream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    /// <summary>Overwrites the stored object (a tampering attacker with write access to the bucket).</summary>
    public async Task ReplaceStoredObjectAsync(string key, byte[] content)
    {
        using var s3 = S3();
        await s3.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = "documents", Key = key, InputStream = new MemoryStream(content), UseChunkEncoding = false });
    }

    /// <summary>Creates a patient and returns its id.</summary>
    public async Task<Guid> CreatePatientAsync(string? mrn = null, string fullName = "Ada Lovelace", string? ssn = "123-45-6789", string[]? codes = null)
    {
        using var client = Client();
        using var response = await client.PostAsJsonAsync("/api/patients", new
        {
            mrn = mrn ?? "MRN-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(6)),
            fullName,
            dateOfBirth = "1815-12-10",
            address = "12 St James's Square, London",
            ssn,
            diagnosisCodes = codes ?? ["E11.9", "I10"],
        });
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();
        return Guid.Parse(body!["id"]!.GetValue<string>());
    }

    /// <summary>Uploads raw bytes; returns the response (caller disposes).</summary>
    public async Task<HttpResponseMessage> UploadAsync(Guid patientId, byte[] content, string fileName = "scan.pdf", string contentType = "application/pdf")
    {
        using var client = Client();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/patients/{patientId}/documents") { Content = new ByteArrayContent(content) };
        request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
        request.Headers.Add("X-File-Name", Uri.EscapeDataString(fileName));
        return await client.SendAsync(request);
    }

    public async Task<Guid> UploadOkAsync(Guid patientId, byte[] content, string fileName = "scan.pdf")
    {
        using var response = await UploadAsync(patientId, content, fileName);
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonObject>();
        return Guid.Parse(body!["id"]!.GetValue<string>());
    }

    public async Task DisposeAsync()
    {
        if (Factory is not null) await Factory.DisposeAsync();
        if (_resources is not null) await _resources.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class DocumentServiceGroup : ICollectionFixture<DocumentServiceFixture>
{
    public const string Name = "DocumentService";
}

/// <summary>Warnings and errors of the service under test, appended to a file for diagnosing failures.</summary>
internal sealed class FileLoggerProvider(string path) : ILoggerProvider
{
    private readonly object _gate = new();

    public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

    public void Dispose()
    {
    }

    private void Append(string line)
    {
        lock (_gate) File.AppendAllText(path, line + Environment.NewLine);
    }

    private sealed class FileLogger(FileLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) owner.Append($"{DateTime.UtcNow:O} {logLevel} {category}: {formatter(state, exception)} {exception}");
        }
    }
}
