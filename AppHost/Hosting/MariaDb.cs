using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MySqlConnector;

namespace Pii.AppHost.Hosting;

/// <summary>What a service's MariaDB user may do on its database.</summary>
public enum MySqlAccess
{
    /// <summary>Everything on the database: runs migrations, reads and writes (FormApi back office).</summary>
    Owner,

    /// <summary>
    /// Nothing on the database as a whole: INSERT on named tables only, granted by
    /// <see cref="MariaDbDatabaseResource.GrantAsync"/> once they exist (the public intake: stores rows, never reads them).
    /// </summary>
    InsertOnly,

    /// <summary>SELECT only (EtlWorker).</summary>
    ReadOnly,

    /// <summary>What mariadb-dump needs: SELECT, SHOW VIEW, LOCK TABLES, TRIGGER, EVENT (BackupService).</summary>
    Backup,
}

/// <summary>A privilege on one table (plain lower-case names only): INSERT, or SELECT of named columns.</summary>
public sealed record TableGrant
{
    private TableGrant(string table, string privilege)
    {
        Tools.QuotedIdentifier(table);
        Table = table;
        Privilege = privilege;
    }

    public string Table { get; }

    public string Privilege { get; }

    public static TableGrant Insert(string table) => new(table, "INSERT");

    public static TableGrant SelectColumns(string table, params string[] columns)
    {
        foreach (var column in columns) Tools.QuotedIdentifier(column);
        return new(table, $"SELECT ({string.Join(", ", columns)})");
    }
}

/// <summary>
/// MariaDB 10.11 (Debian mariadb-server, installed through apt on first use) run by DCP as a plain process:
/// <c>mariadb-install-db</c> on first start, then <c>mariadbd --no-defaults</c> on 127.0.0.1 with its socket in the data
/// folder. root starts with no password and only the socket: the health probe sets the generated root password
/// through the socket the first time, and from then on every check and all provisioning go over TCP.
/// SIGTERM is MariaDB's clean shutdown.
/// </summary>
public sealed class MariaDbServerResource(string name, string workingDirectory, int port, string dataDirectory, ParameterResource password, string passwordValue)
    : ExecutableResource(name, "/usr/sbin/mariadbd", workingDirectory), IResourceWithConnectionString
{
    public int Port { get; } = port;

    public string DataDirectory { get; } = dataDirectory;

    public string SocketPath => Path.Combine(DataDirectory, "mysqld.sock");

    /// <summary>
    /// MariaDB's own temporary folder. The default, /tmp, is shared with every other server on the machine: a
    /// concurrent first run once lost its bootstrap temporary tables there and failed (mysql.tmp_user_sys).
    /// </summary>
    public string TempDirectory => DataDirectory + "-tmp";

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"Server=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};User ID=root;Password={password};SslMode=None");

    public string AdminConnectionString => $"Server=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};User ID=root;Password={passwordValue};SslMode=None;Connection Timeout=5;Pooling=false";

    internal SemaphoreSlim ProvisioningGate { get; } = new(1, 1);

    internal async Task<HealthCheckResult> ProbeAsync(CancellationToken cancellationToken)
    {
        var overTcp = await HealthProbes.MySqlQueryAsync(AdminConnectionString, cancellationToken);
        if (overTcp.Status == HealthStatus.Healthy || !File.Exists(SocketPath)) return overTcp;
        try
        {
            await SetRootPasswordAsync(cancellationToken);
        }
        catch (MySqlException e)
        {
            return HealthCheckResult.Unhealthy(e.Message);
        }
        return await HealthProbes.MySqlQueryAsync(AdminConnectionString, cancellationToken);
    }

    private async Task SetRootPasswordAsync(CancellationToken cancellationToken)
    {
        await using var socket = new MySqlConnection($"Server={SocketPath};Protocol=unix;User ID=root;SslMode=None;Pooling=false");
        await socket.OpenAsync(cancellationToken);
        foreach (var host in (string[])["localhost", "127.0.0.1"])
        {
            await MariaDbDatabaseResource.ExecuteAsync(socket, $"CREATE USER IF NOT EXISTS 'root'@'{host}' IDENTIFIED BY '{passwordValue}'", cancellationToken);
            await MariaDbDatabaseResource.ExecuteAsync(socket, $"ALTER USER 'root'@'{host}' IDENTIFIED BY '{passwordValue}'", cancellationToken);
            await MariaDbDatabaseResource.ExecuteAsync(socket, $"GRANT ALL PRIVILEGES ON *.* TO 'root'@'{host}' WITH GRANT OPTION", cancellationToken);
        }
    }
}

/// <summary>
/// A database inside a <see cref="MariaDbServerResource"/> with one user per service (host '%', the server listens on
/// 127.0.0.1 only) holding exactly its <see cref="MySqlAccess"/> on this database and nothing else.
/// </summary>
public sealed class MariaDbDatabaseResource(string name, MariaDbServerResource server)
    : Resource(name), IResourceWithParent<MariaDbServerResource>, IResourceWithConnectionString
{
    private readonly object _gate = new();
    private Task? _provisioned;

    public MariaDbServerResource Parent { get; } = server;

    internal List<MariaDbLoginResource> Logins { get; } = [];

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Parent};Database={Name}");

    /// <summary>The administrator's connection string with <c>Database=</c> (tests seed and inspect through it).</summary>
    public string ConnectionString => new MySqlConnectionStringBuilder(Parent.AdminConnectionString) { Database = Name, Pooling = true }.ConnectionString;

    internal Task EnsureProvisionedAsync(CancellationToken cancellationToken)
    {
        lock (_gate) return _provisioned ??= ProvisionAsync(cancellationToken);
    }

    private async Task ProvisionAsync(CancellationToken cancellationToken)
    {
        await Parent.ProvisioningGate.WaitAsync(cancellationToken);
        try
        {
            await using var admin = new MySqlConnection(Parent.AdminConnectionString);
            await admin.OpenAsync(cancellationToken);
            await ExecuteAsync(admin, $"CREATE DATABASE IF NOT EXISTS `{Name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", cancellationToken);
            foreach (var login in Logins)
            {
                var user = login.User;
                await ExecuteAsync(admin, $"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{login.PasswordValue}'", cancellationToken);
                await ExecuteAsync(admin, $"ALTER USER '{user}'@'%' IDENTIFIED BY '{login.PasswordValue}'", cancellationToken);
                if (login.Access == MySqlAccess.InsertOnly)
                {
                    // Table grants follow once the schema exists; anything wider from an earlier version goes now.
                    await ExecuteAsync(admin, $"REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{user}'@'%'", cancellationToken);
                    continue;
                }
                var privileges = login.Access switch
                {
                    MySqlAccess.Owner => "ALL PRIVILEGES",
                    MySqlAccess.ReadOnly => "SELECT",
                    MySqlAccess.Backup => "SELECT, SHOW VIEW, LOCK TABLES, TRIGGER, EVENT",
                    _ => throw new InvalidOperationException($"Unknown access {login.Access}."),
                };
                await ExecuteAsync(admin, $"GRANT {privileges} ON `{Name}`.* TO '{user}'@'%'", cancellationToken);
            }
        }
        finally
        {
            Parent.ProvisioningGate.Release();
        }
    }

    /// <summary>
    /// Grants <paramref name="user"/> (an <see cref="MySqlAccess.InsertOnly"/> user of this database) exactly
    /// <paramref name="grants"/>. The tables must exist: MariaDB grants on a table only once it is there, so callers run
    /// this when the service that owns the schema is ready.
    /// </summary>
    public async Task GrantAsync(string user, IReadOnlyList<TableGrant> grants, CancellationToken cancellationToken)
    {
        Tools.QuotedIdentifier(user);
        await using var admin = new MySqlConnection(Parent.AdminConnectionString);
        await admin.OpenAsync(cancellationToken);
        foreach (var grant in grants)
        {
            await ExecuteAsync(admin, $"GRANT {grant.Privilege} ON `{Name}`.`{grant.Table}` TO '{user}'@'%'", cancellationToken);
        }
    }

    internal static async Task ExecuteAsync(MySqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new MySqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}

/// <summary>One service's MariaDB user; referencing it injects <c>ConnectionStrings__&lt;database&gt;</c> with its credentials.</summary>
public sealed class MariaDbLoginResource(string name, MariaDbDatabaseResource database, string user, MySqlAccess access, ParameterResource password, string passwordValue)
    : Resource(name), IResourceWithParent<MariaDbDatabaseResource>, IResourceWithConnectionString
{
    public MariaDbDatabaseResource Parent { get; } = database;

    public string User { get; } = user;

    public MySqlAccess Access { get; } = access;

    internal string PasswordValue { get; } = passwordValue;

    public string? ConnectionStringEnvironmentVariable => $"ConnectionStrings__{Parent.Name}";

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Server=127.0.0.1;Port={Parent.Parent.Port.ToString(CultureInfo.InvariantCulture)};User ID={User};Password={password};Database={Parent.Name};SslMode=None");

    public string ConnectionString =>
        $"Server=127.0.0.1;Port={Parent.Parent.Port.ToString(CultureInfo.InvariantCulture)};User ID={User};Password={PasswordValue};Database={Parent.Name};SslMode=None";
}

public static class MariaDbBuilderExtensions
{
    /// <summary>A local MariaDB server with its data in <c>&lt;state&gt;/data/&lt;name&gt;</c>; fixed port 13306 unless configured.</summary>
    public static IResourceBuilder<MariaDbServerResource> AddMariaDb(this IDistributedApplicationBuilder builder, string name, int? port = 13306)
    {
        var state = LocalState.Of(builder);
        var secretName = $"{name}-root-password";
        var server = new MariaDbServerResource(name, state.DataRoot, state.PortFor(name, port), state.DataPath(name),
            state.Secret(secretName).Resource, state.SecretValue(secretName));
        List<string> arguments = ["--no-defaults"];
        if (Prerequisites.IsRoot()) arguments.Add("--user=mysql");
        arguments.AddRange([$"--datadir={server.DataDirectory}", $"--port={server.Port.ToString(CultureInfo.InvariantCulture)}",
            "--bind-address=127.0.0.1", $"--socket={server.SocketPath}", $"--tmpdir={server.TempDirectory}",
            $"--pid-file={Path.Combine(server.DataDirectory, "mysqld.pid")}",
            "--skip-name-resolve", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"]);
        if (!state.Durable) arguments.AddRange(["--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--innodb-buffer-pool-size=64M"]);

        var resource = builder.AddResource(server)
            .WithArgs([.. arguments])
            .WithEndpoint(name: "tcp", scheme: "tcp", port: server.Port, targetPort: server.Port, isProxied: false)
            .WithProbe(server.ProbeAsync);
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(server, (_, ct) => InitializeAsync(server, ct));
        return resource;
    }

    public static IResourceBuilder<MariaDbDatabaseResource> AddDatabase(this IResourceBuilder<MariaDbServerResource> server, string name)
    {
        Tools.QuotedIdentifier(name);
        return server.ApplicationBuilder.AddChild(new MariaDbDatabaseResource(name, server.Resource), "MySqlDatabase")
            .OnResourceReady((db, _, ct) => db.EnsureProvisionedAsync(ct));
    }

    public static IResourceBuilder<MariaDbLoginResource> AddUser(this IResourceBuilder<MariaDbDatabaseResource> database, string user, MySqlAccess access)
    {
        Tools.QuotedIdentifier(user);
        var state = LocalState.Of(database.ApplicationBuilder);
        var secretName = $"{database.Resource.Parent.Name}-{user}-password";
        var login = new MariaDbLoginResource(Tools.ResourceName(database.Resource.Name, user), database.Resource, user, access,
            state.Secret(secretName).Resource, state.SecretValue(secretName));
        database.Resource.Logins.Add(login);
        return database.ApplicationBuilder.AddChild(login, "MySqlLogin")
            .OnResourceReady((l, _, ct) => l.Parent.EnsureProvisionedAsync(ct));
    }

    private static async Task InitializeAsync(MariaDbServerResource server, CancellationToken cancellationToken)
    {
        await Prerequisites.EnsureAptPackagesAsync(["mariadb-server"], cancellationToken: cancellationToken);
        var asRoot = Prerequisites.IsRoot();
        Directory.CreateDirectory(server.TempDirectory);
        if (asRoot) await Tools.RunAsync("chown", ["mysql:mysql", server.TempDirectory], cancellationToken);
        if (Directory.Exists(Path.Combine(server.DataDirectory, "mysql"))) return;

        Directory.CreateDirectory(server.DataDirectory);
        List<string> arguments = ["--no-defaults", $"--datadir={server.DataDirectory}", $"--tmpdir={server.TempDirectory}",
            "--auth-root-authentication-method=normal", "--skip-test-db"];
        if (asRoot) arguments.Insert(1, "--user=mysql");
        await Tools.RunAsync("/usr/bin/mariadb-install-db", arguments, cancellationToken);
    }
}
