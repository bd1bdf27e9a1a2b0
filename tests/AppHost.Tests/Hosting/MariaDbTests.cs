using MySqlConnector;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;

namespace Pii.AppHost.Tests.Hosting;

/// <summary>MariaDB 10.11 as DCP runs it from the hosting integration, with the DNC users of the AppHost's model.</summary>
public sealed class MariaDbFixture : IAsyncLifetime
{
    private LocalResources? _resources;

    public IResourceBuilder<MariaDbServerResource> Server { get; private set; } = null!;

    public IResourceBuilder<MariaDbLoginResource> Owner { get; private set; } = null!;

    public IResourceBuilder<MariaDbLoginResource> Intake { get; private set; } = null!;

    public IResourceBuilder<MariaDbLoginResource> Etl { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var model = LocalResources.CreateBuilder("maria");
        Server = model.AddMariaDb("mysql");
        var dnc = Server.AddDatabase("dnc");
        Owner = dnc.AddUser("dnc_backoffice", MySqlAccess.Owner);
        Intake = dnc.AddUser("dnc_intake", MySqlAccess.InsertOnly);
        Etl = dnc.AddUser("dnc_etl", MySqlAccess.ReadOnly);
        _resources = await LocalResources.StartAsync(model);
        await using var owner = new MySqlConnection(Owner.Resource.ConnectionString);
        await owner.OpenAsync();
        await new MySqlCommand("CREATE TABLE IF NOT EXISTS dnc_preferences (id INT PRIMARY KEY, phone VARBINARY(64)) CHARACTER SET utf8mb3", owner).ExecuteNonQueryAsync();
        await new MySqlCommand("CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY)", owner).ExecuteNonQueryAsync();
        await dnc.Resource.GrantAsync("dnc_intake", [TableGrant.Insert("dnc_preferences")], CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (_resources is not null) await _resources.DisposeAsync();
    }
}

public sealed class MariaDbTests(MariaDbFixture fixture) : IClassFixture<MariaDbFixture>
{
    private const int AccessDenied = 1142;

    [Fact]
    public async Task Server_is_MariaDB_10_11()
    {
        await using var connection = new MySqlConnection(fixture.Server.Resource.AdminConnectionString);
        await connection.OpenAsync();
        var version = (string)(await new MySqlCommand("SELECT VERSION()", connection).ExecuteScalarAsync())!;
        Assert.Contains("10.11", version, StringComparison.Ordinal);
        Assert.Contains("MariaDB", version, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Intake_user_may_insert_but_never_read()
    {
        await using var intake = new MySqlConnection(fixture.Intake.Resource.ConnectionString);
        await intake.OpenAsync();
        var id = Random.Shared.Next(1_000, int.MaxValue);
        await new MySqlCommand($"INSERT INTO dnc_preferences (id, phone) VALUES ({id}, 0x01)", intake).ExecuteNonQueryAsync();

        var read = await Assert.ThrowsAsync<MySqlException>(() => new MySqlCommand("SELECT phone FROM dnc_preferences", intake).ExecuteScalarAsync());
        Assert.Equal(AccessDenied, read.Number);
        var delete = await Assert.ThrowsAsync<MySqlException>(() => new MySqlCommand($"DELETE FROM dnc_preferences WHERE id = {id}", intake).ExecuteNonQueryAsync());
        Assert.Equal(AccessDenied, delete.Number);
        // Only on the tables granted: not on another table of the same database.
        var elsewhere = await Assert.ThrowsAsync<MySqlException>(() => new MySqlCommand("INSERT INTO schema_migrations (version) VALUES (99)", intake).ExecuteNonQueryAsync());
        Assert.Equal(AccessDenied, elsewhere.Number);
    }

    [Fact]
    public async Task Etl_user_may_read_but_never_write()
    {
        await using var etl = new MySqlConnection(fixture.Etl.Resource.ConnectionString);
        await etl.OpenAsync();
        await new MySqlCommand("SELECT COUNT(*) FROM dnc_preferences", etl).ExecuteScalarAsync();
        var write = await Assert.ThrowsAsync<MySqlException>(() => new MySqlCommand("INSERT INTO dnc_preferences (id) VALUES (1)", etl).ExecuteNonQueryAsync());
        Assert.Equal(AccessDenied, write.Number);
    }

    [Fact]
    public async Task Charset_shim_lets_MySqlData_read_utf8mb3_columns()
    {
        await using var connection = new MySqlConnection(fixture.Owner.Resource.ConnectionString);
        await connection.OpenAsync();
        // information_schema columns are utf8mb3 on MariaDB 10.6+: without the shim this throws NotSupportedException.
        await using (var command = new MySqlCommand("SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'dnc' AND TABLE_NAME = 'dnc_preferences' ORDER BY ORDINAL_POSITION", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal("id", reader.GetString(0));
        }
        await new MySqlCommand("SHOW WARNINGS", connection).ExecuteScalarAsync();
    }
}
