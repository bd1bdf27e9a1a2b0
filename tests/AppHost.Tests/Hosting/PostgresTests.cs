using Npgsql;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;

namespace Pii.AppHost.Tests.Hosting;

/// <summary>PostgreSQL 15 as DCP runs it from the hosting integration, with the least-privilege users of the AppHost's model.</summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private LocalResources? _resources;

    public IResourceBuilder<PostgresServerResource> Server { get; private set; } = null!;

    public IResourceBuilder<PostgresLoginResource> Documents { get; private set; } = null!;

    public IResourceBuilder<PostgresLoginResource> Etl { get; private set; } = null!;

    public IResourceBuilder<PostgresLoginResource> BackupRecords { get; private set; } = null!;

    public LocalResources Resources => _resources!;

    public async Task InitializeAsync()
    {
        var model = LocalResources.CreateBuilder("pg");
        Server = model.AddPostgres("postgres");
        var records = Server.AddDatabase("records");
        var analytics = Server.AddDatabase("analytics");
        Documents = records.AddUser("documentservice", new PostgresAccess.SchemaOwner("documents"));
        Etl = analytics.AddUser("etlworker", new PostgresAccess.SchemaOwner("suppression"));
        BackupRecords = records.AddUser("backupservice", new PostgresAccess.ReadAll());
        _resources = await LocalResources.StartAsync(model);
    }

    public async Task DisposeAsync()
    {
        if (_resources is not null) await _resources.DisposeAsync();
    }
}

public sealed class PostgresTests(PostgresFixture fixture) : IClassFixture<PostgresFixture>
{
    [Fact]
    public async Task Server_runs_PostgreSQL_15_with_password_authentication()
    {
        await using var connection = new NpgsqlConnection(fixture.Server.Resource.AdminConnectionString);
        await connection.OpenAsync();
        var version = (string)(await new NpgsqlCommand("SHOW server_version", connection).ExecuteScalarAsync())!;
        Assert.StartsWith("15.", version, StringComparison.Ordinal);

        var wrongPassword = new NpgsqlConnectionStringBuilder(fixture.Server.Resource.AdminConnectionString) { Password = "wrong" }.ConnectionString;
        await using var denied = new NpgsqlConnection(wrongPassword);
        var error = await Assert.ThrowsAsync<PostgresException>(() => denied.OpenAsync());
        Assert.Equal("28P01", error.SqlState);
    }

    [Fact]
    public async Task Service_user_owns_its_schema_and_nothing_else()
    {
        await using var connection = new NpgsqlConnection(fixture.Documents.Resource.ConnectionString);
        await connection.OpenAsync();
        await new NpgsqlCommand("CREATE TABLE IF NOT EXISTS notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'x') ON CONFLICT DO NOTHING", connection).ExecuteNonQueryAsync();
        Assert.Equal("documents", await new NpgsqlCommand("SELECT current_schema()", connection).ExecuteScalarAsync());

        var inPublic = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("CREATE TABLE public.intruder (id int)", connection).ExecuteNonQueryAsync());
        Assert.Equal("42501", inPublic.SqlState);

        var otherDatabase = new NpgsqlConnectionStringBuilder(fixture.Documents.Resource.ConnectionString) { Database = "analytics" }.ConnectionString;
        await using var elsewhere = new NpgsqlConnection(otherDatabase);
        var connect = await Assert.ThrowsAsync<PostgresException>(() => elsewhere.OpenAsync());
        Assert.Equal("42501", connect.SqlState);
    }

    [Fact]
    public async Task Backup_user_reads_every_table_but_cannot_write()
    {
        await using (var owner = new NpgsqlConnection(fixture.Documents.Resource.ConnectionString))
        {
            await owner.OpenAsync();
            await new NpgsqlCommand("CREATE TABLE IF NOT EXISTS documents.catalog (id int PRIMARY KEY); INSERT INTO documents.catalog VALUES (7) ON CONFLICT DO NOTHING", owner).ExecuteNonQueryAsync();
        }
        await using var backup = new NpgsqlConnection(fixture.BackupRecords.Resource.ConnectionString);
        await backup.OpenAsync();
        Assert.Equal(7, await new NpgsqlCommand("SELECT id FROM documents.catalog", backup).ExecuteScalarAsync());
        var write = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("INSERT INTO documents.catalog VALUES (8)", backup).ExecuteNonQueryAsync());
        Assert.Equal("42501", write.SqlState);
    }

    [Fact]
    public async Task Etl_user_cannot_reach_the_records_database()
    {
        var records = new NpgsqlConnectionStringBuilder(fixture.Etl.Resource.ConnectionString) { Database = "records" }.ConnectionString;
        await using var connection = new NpgsqlConnection(records);
        var error = await Assert.ThrowsAsync<PostgresException>(() => connection.OpenAsync());
        Assert.Equal("42501", error.SqlState);
    }
}
