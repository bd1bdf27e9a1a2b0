using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;
using Pii.Crypto.Keys;
using Pii.Crypto.Transit;
using Pii.EntityFrameworkCore;

namespace Pii.EntityFrameworkCore.Tests;

/// <summary>
/// The only place these tests start servers: real PostgreSQL and the key service (transit key <c>documents</c>, a token
/// bound to the <c>documents</c> policy) started by DCP with the AppHost's hosting integrations. Each test gets a database of its own
/// (<see cref="CreateDatabaseAsync"/>), so tests that rotate DEKs cannot disturb each other.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private LocalResources? _resources;
    private IResourceBuilder<PostgresServerResource>? _server;
    private IResourceBuilder<ProjectResource>? _vault;
    private KeyServiceToken? _token;
    private int _databases;

    public string AdminConnectionString => _server!.Resource.AdminConnectionString;

    public async Task InitializeAsync()
    {
        var model = LocalResources.CreateBuilder("efcore");
        _server = model.AddPostgres("postgres");
        _server.AddDatabase("efcore");
        _vault = model.AddKeyService("vault").AddTransitKey("documents");
        _token = _vault.AddToken("efcore-tests", "documents");
        _resources = await LocalResources.StartAsync(model, TimeSpan.FromMinutes(5));
    }

    /// <summary>A fresh, empty database; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        string name = $"ef_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(AdminConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { Database = name }.ConnectionString;
    }

    /// <summary>The key service's transit KEK <c>documents</c>, as an application would use it.</summary>
    public TransitKek TransitKek() => new(new TransitClient(new HttpClient(), new TransitClientOptions
    {
        Address = new Uri(_vault!.Address() + "/"),
        Token = _token!.Token,
    }), "documents");

    /// <summary>A development KEK with a random master key.</summary>
    public static LocalKek LocalKek()
    {
        byte[] master = RandomNumberGenerator.GetBytes(32);
        try
        {
            return new LocalKek("dev", new Dictionary<int, byte[]> { [1] = master });
        }
        finally
        {
            CryptographicOperations.ZeroMemory(master);
        }
    }

    /// <summary>Encryption over the key store in <paramref name="connectionString"/> (transit KEK unless <paramref name="kek"/> is given).</summary>
    public PiiEncryption Encryption(string connectionString, IKeyEncryptionKey? kek = null, byte[]? applicationKey = null, DekPolicy? policy = null) => new(new PiiEncryptionOptions
    {
        KeyEncryptionKey = kek ?? TransitKek(),
        KeyStore = options => options.UseNpgsql(connectionString),
        ApplicationKey = applicationKey ?? RandomNumberGenerator.GetBytes(32),
        DekPolicy = policy,
    });

    public async Task DisposeAsync()
    {
        if (_resources is not null)
        {
            await _resources.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresGroup : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}
