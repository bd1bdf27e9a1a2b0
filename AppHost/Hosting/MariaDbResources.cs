using System.Globalization;
using MySqlConnector;

namespace Pii.AppHost.Hosting;

/// <summary>What a service's MariaDB user may do on its database.</summary>
public enum MySqlAccess
{
    /// <summary>Everything on the database: runs migrations, reads and writes (FormApi back office).</summary>
    Owner,

    /// <summary>
    /// Nothing on the database as a whole: INSERT on named tables only, granted by
    /// <see cref="MariaDbDatabase.GrantAsync"/> once they exist (the public intake: stores rows, never reads them).
    /// </summary>
    InsertOnly,

    /// <summary>SELECT only (EtlWorker).</summary>
    ReadOnly,

    /// <summary>What mariadb-dump needs: SELECT, SHOW VIEW, LOCK TABLES, TRIGGER, EVENT (BackupService).</summary>
    Backup,
}

/// <summary>
/// MariaDB 10.11 (Debian mariadb-server, installed through apt on first use when root) as a local process:
/// <c>mariadb-install-db</c> on first run, then <c>mariadbd --no-defaults --user=mysql</c> on 127.0.0.1 with its socket
/// in the data folder. The first provisioning sets the root password over the socket (root starts with none);
/// afterwards everything goes over TCP. SIGTERM is MariaDB's clean shutdown.
/// With <c>Resources:&lt;name&gt;:ConnectionString</c> it is external: probed, not launched, not provisioned.
/// </summary>
public sealed class MariaDbServer : Resource
{
    private readonly AppModel _model;
    private readonly string? _external;

    public MariaDbServer(AppModel model, string name) : base(name, "Database")
    {
        _model = model;
        _external = model.ResourceConfiguration(name)["ConnectionString"];
        if (_external is not null)
        {
            Type = "External";
            HealthCheck = HealthChecks.MySqlQuery(() => _external);
            return;
        }
        Port = model.AllocatePort();
        Endpoints.Add(new ResourceEndpoint("tcp", "tcp", "127.0.0.1", Port));
        Password = model.Secrets.GetOrCreate($"{name}-root-password");
        DataDirectory = model.DataPath(name);
        SocketPath = Path.Combine(DataDirectory, "mysqld.sock");
        TempDirectory = model.DataPath($"{name}-tmp");
        BeforeStart.Add(InitializeAsync);
        Process = new ProcessSpec("/usr/sbin/mariadbd") { WorkingDirectory = model.Options.DataRoot };
        Process.Arguments.Add("--no-defaults");
        if (Native.IsRoot) Process.Arguments.Add("--user=mysql");
        Process.Arguments.AddRange([$"--datadir={DataDirectory}", $"--port={Port.ToString(CultureInfo.InvariantCulture)}",
            "--bind-address=127.0.0.1", $"--socket={SocketPath}", $"--tmpdir={TempDirectory}", $"--pid-file={Path.Combine(DataDirectory, "mysqld.pid")}",
            "--skip-name-resolve", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"]);
        if (!model.Options.Durable) Process.Arguments.AddRange(["--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--innodb-buffer-pool-size=64M"]);
        // TCP until provisioning has set the root password; then a real query (see ProvisionRootAsync).
        HealthCheck = HealthChecks.Tcp("127.0.0.1", Port);
        OnReady.Add(ProvisionRootAsync);
        StartupTimeout = TimeSpan.FromSeconds(60);
    }

    public bool IsExternal => _external is not null;

    public int Port { get; }

    public string DataDirectory { get; } = "";

    public string SocketPath { get; } = "";

    /// <summary>
    /// MariaDB's own temporary folder. The default, /tmp, is shared with every other server on the machine: a
    /// concurrent first run once lost its bootstrap temporary tables there and failed (mysql.tmp_user_sys).
    /// </summary>
    public string TempDirectory { get; } = "";

    private string Password { get; } = "";

    /// <summary>Aspire's server shape: <c>Server=…;Port=…;User ID=root;Password=…</c>.</summary>
    public string AdminConnectionString => _external ?? $"Server=127.0.0.1;Port={Port};User ID=root;Password={Password};SslMode=None;Connection Timeout=5";

    internal SemaphoreSlim ProvisioningGate { get; } = new(1, 1);

    public MariaDbDatabase AddDatabase(string name) => _model.Add(new MariaDbDatabase(_model, this, name));

    private async Task<MySqlConnection> OpenSocketAsync(CancellationToken cancellationToken)
    {
        foreach (var password in (string[])["", Password])
        {
            var connection = new MySqlConnection($"Server={SocketPath};Protocol=unix;User ID=root;Password={password};SslMode=None");
            try
            {
                await connection.OpenAsync(cancellationToken);
                return connection;
            }
            catch (MySqlException) when (password.Length == 0)
            {
                await connection.DisposeAsync();
            }
        }
        throw new InvalidOperationException("Cannot log in to MariaDB as root through its socket.");
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await Prerequisites.EnsureAptPackagesAsync(["mariadb-server"], _model.Options.Progress, cancellationToken);
        Directory.CreateDirectory(TempDirectory);
        if (Native.IsRoot) await Tools.RunAsync("chown", ["mysql:mysql", TempDirectory], cancellationToken);
        if (Directory.Exists(Path.Combine(DataDirectory, "mysql"))) return;

        _model.Options.Progress.WriteLine($"  {Name,-20} mariadb-install-db {DataDirectory}");
        Directory.CreateDirectory(DataDirectory);
        List<string> arguments = ["--no-defaults", $"--datadir={DataDirectory}", $"--tmpdir={TempDirectory}", "--auth-root-authentication-method=normal", "--skip-test-db"];
        if (Native.IsRoot) arguments.Insert(1, "--user=mysql");
        await Tools.RunAsync("/usr/bin/mariadb-install-db", arguments, cancellationToken);
    }

    private async Task ProvisionRootAsync(CancellationToken cancellationToken)
    {
        var tcpWorks = (await HealthChecks.MySqlQuery(() => AdminConnectionString)(cancellationToken)).IsHealthy;
        if (!tcpWorks)
        {
            // First start: root@localhost has no password and is reachable only through the socket. (A start that
            // stopped half-way may have set the password already, hence the second attempt.)
            await using var socket = await OpenSocketAsync(cancellationToken);
            foreach (var host in (string[])["localhost", "127.0.0.1"])
            {
                await MariaDbDatabase.ExecuteAsync(socket, $"CREATE USER IF NOT EXISTS 'root'@'{host}' IDENTIFIED BY '{Password}'", cancellationToken);
                await MariaDbDatabase.ExecuteAsync(socket, $"ALTER USER 'root'@'{host}' IDENTIFIED BY '{Password}'", cancellationToken);
                await MariaDbDatabase.ExecuteAsync(socket, $"GRANT ALL PRIVILEGES ON *.* TO 'root'@'{host}' WITH GRANT OPTION", cancellationToken);
            }
        }
        HealthCheck = HealthChecks.MySqlQuery(() => AdminConnectionString);
    }
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
/// A database inside a <see cref="MariaDbServer"/> with one user per service (host '%', the server listens on
/// 127.0.0.1 only) holding exactly its <see cref="MySqlAccess"/> on this database and nothing else.
/// </summary>
public sealed class MariaDbDatabase : Resource
{
    private readonly AppModel _model;
    private readonly List<(string User, MySqlAccess Access)> _users = [];

    public MariaDbDatabase(AppModel model, MariaDbServer server, string name) : base(name, "Database")
    {
        _model = model;
        Server = server;
        Tools.QuotedIdentifier(name);
        WaitsFor.Add(server);
        OnReady.Add(ProvisionAsync);
    }

    public MariaDbServer Server { get; }

    /// <summary>The administrator's connection string with <c>Database=</c> appended (Aspire's database shape).</summary>
    public string ConnectionString => new MySqlConnectionStringBuilder(Server.AdminConnectionString) { Database = Name }.ConnectionString;

    public ConnectionReference AddUser(string user, MySqlAccess access)
    {
        Tools.QuotedIdentifier(user);
        if (Server.IsExternal) return new ConnectionReference(this, Name, () => ConnectionString);
        _users.Add((user, access));
        var password = _model.Secrets.GetOrCreate($"{Server.Name}-{user}-password");
        return new ConnectionReference(this, Name, () => $"Server=127.0.0.1;Port={Server.Port};User ID={user};Password={password};Database={Name};SslMode=None",
            () => ConnectionReference.DatabaseProperties("mysql", Server.Port, user, password, Name));
    }

    private async Task ProvisionAsync(CancellationToken cancellationToken)
    {
        if (Server.IsExternal)
        {
            Log.Append($"[apphost] {Name}: external server — database and users are not provisioned by the AppHost.", isError: false);
            return;
        }
        await Server.ProvisioningGate.WaitAsync(cancellationToken);
        try
        {
            await using var admin = new MySqlConnection(Server.AdminConnectionString);
            await admin.OpenAsync(cancellationToken);
            await ExecuteAsync(admin, $"CREATE DATABASE IF NOT EXISTS `{Name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci", cancellationToken);
            foreach (var (user, access) in _users)
            {
                var password = _model.Secrets.GetOrCreate($"{Server.Name}-{user}-password");
                await ExecuteAsync(admin, $"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{password}'", cancellationToken);
                await ExecuteAsync(admin, $"ALTER USER '{user}'@'%' IDENTIFIED BY '{password}'", cancellationToken);
                if (access == MySqlAccess.InsertOnly)
                {
                    // Table grants follow once the schema exists; anything wider from an earlier version goes now.
                    await ExecuteAsync(admin, $"REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{user}'@'%'", cancellationToken);
                    continue;
                }
                var privileges = access switch
                {
                    MySqlAccess.Owner => "ALL PRIVILEGES",
                    MySqlAccess.ReadOnly => "SELECT",
                    MySqlAccess.Backup => "SELECT, SHOW VIEW, LOCK TABLES, TRIGGER, EVENT",
                    _ => throw new InvalidOperationException($"Unknown access {access}."),
                };
                await ExecuteAsync(admin, $"GRANT {privileges} ON `{Name}`.* TO '{user}'@'%'", cancellationToken);
            }
        }
        finally
        {
            Server.ProvisioningGate.Release();
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
        if (Server.IsExternal) return;
        await using var admin = new MySqlConnection(Server.AdminConnectionString);
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

public static class MariaDbModelExtensions
{
    public static MariaDbServer AddMariaDb(this AppModel model, string name) => model.Add(new MariaDbServer(model, name));
}
