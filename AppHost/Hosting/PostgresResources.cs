using Npgsql;

namespace Pii.AppHost.Hosting;

/// <summary>What a service's PostgreSQL user may do.</summary>
public abstract record PostgresAccess
{
    /// <summary>Owns one schema in the database (its search_path); nothing elsewhere.</summary>
    public sealed record SchemaOwner(string Schema) : PostgresAccess;

    /// <summary>Reads every table (pg_read_all_data), e.g. for pg_dump; writes nothing.</summary>
    public sealed record ReadAll : PostgresAccess;
}

/// <summary>
/// PostgreSQL 15 from /usr/lib/postgresql/15/bin as a local process: initdb on first run with scram-sha-256 password
/// auth, TCP on 127.0.0.1 only, no Unix socket; run as the <c>postgres</c> user when the launcher is root
/// (initdb through runuser, the server through setpriv so that its pid is the postmaster's); SIGINT = fast shutdown.
/// With <c>Resources:&lt;name&gt;:ConnectionString</c> it is external: probed, not launched, not provisioned.
/// </summary>
public sealed class PostgresServer : Resource
{
    public const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private readonly AppModel _model;
    private readonly string? _external;

    internal SemaphoreSlim ProvisioningGate { get; } = new(1, 1);

    public PostgresServer(AppModel model, string name) : base(name, "Database")
    {
        _model = model;
        _external = model.ResourceConfiguration(name)["ConnectionString"];
        if (_external is not null)
        {
            Type = "External";
            HealthCheck = HealthChecks.PostgresQuery(() => _external);
            return;
        }
        Port = model.AllocatePort();
        Endpoints.Add(new ResourceEndpoint("tcp", "tcp", "127.0.0.1", Port));
        Password = model.Secrets.GetOrCreate($"{name}-password");
        DataDirectory = model.DataPath(name);
        BeforeStart.Add(InitializeAsync);
        Process = new ProcessSpec(Path.Combine(BinDirectory, "postgres"))
        {
            RunAsUser = "postgres",
            StopSignal = Native.SigInt,
            WorkingDirectory = model.Options.DataRoot,
        };
        Process.Arguments.AddRange(["-D", DataDirectory, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "log_destination=stderr"]);
        if (!model.Options.Durable) Process.Arguments.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        HealthCheck = HealthChecks.PostgresQuery(() => AdminConnectionString);
        StartupTimeout = TimeSpan.FromSeconds(60);
    }

    public bool IsExternal => _external is not null;

    public int Port { get; }

    public string DataDirectory { get; } = "";

    private string Password { get; } = "";

    /// <summary>Aspire's server shape: <c>Host=…;Port=…;Username=postgres;Password=…</c>.</summary>
    public string AdminConnectionString => _external ?? $"Host=127.0.0.1;Port={Port};Username=postgres;Password={Password};Timeout=5";

    public PostgresDatabase AddDatabase(string name) => _model.Add(new PostgresDatabase(_model, this, name));

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await Prerequisites.EnsureAptPackagesAsync(["postgresql-15"], _model.Options.Progress, cancellationToken);
        if (File.Exists(Path.Combine(DataDirectory, "PG_VERSION"))) return;

        _model.Options.Progress.WriteLine($"  {Name,-20} initdb {DataDirectory}");
        Directory.CreateDirectory(DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var passwordFile = Path.Combine(_model.Options.DataRoot, $".{Name}-initdb-password");
        await File.WriteAllTextAsync(passwordFile, Password, cancellationToken);
        File.SetUnixFileMode(passwordFile, SecretStore.FileMode);
        try
        {
            if (Native.IsRoot)
            {
                await Tools.RunAsync("chown", ["-R", "postgres:postgres", DataDirectory, passwordFile], cancellationToken);
                await Tools.RunAsync("runuser", ["-u", "postgres", "--", "test", "-w", DataDirectory], cancellationToken,
                    $"the postgres user cannot reach {DataDirectory}: every parent folder must be searchable (chmod o+x) by it");
            }
            List<string> initdb = [Path.Combine(BinDirectory, "initdb"), "-D", DataDirectory, "-U", "postgres", "--pwfile", passwordFile,
                "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"];
            if (!_model.Options.Durable) initdb.Add("--no-sync");
            if (Native.IsRoot) await Tools.RunAsync("runuser", ["-u", "postgres", "--", .. initdb], cancellationToken);
            else await Tools.RunAsync(initdb[0], initdb[1..], cancellationToken);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }
}

/// <summary>
/// A database inside a <see cref="PostgresServer"/>: created on first run, CONNECT revoked from PUBLIC, and one
/// login per service with only the access it is given. Ready once its server is and provisioning is done.
/// </summary>
public sealed class PostgresDatabase : Resource
{
    private readonly AppModel _model;
    private readonly List<(string User, PostgresAccess Access)> _users = [];

    public PostgresDatabase(AppModel model, PostgresServer server, string name) : base(name, "Database")
    {
        _model = model;
        Server = server;
        WaitsFor.Add(server);
        OnReady.Add(ProvisionAsync);
    }

    public PostgresServer Server { get; }

    /// <summary>The administrator's connection string with <c>Database=</c> appended (Aspire's database shape).</summary>
    public string ConnectionString => WithDatabase(Server.AdminConnectionString);

    /// <summary>A login for one service; referencing it injects <c>ConnectionStrings__&lt;database&gt;</c> with its credentials.</summary>
    public ConnectionReference AddUser(string user, PostgresAccess access)
    {
        Tools.QuotedIdentifier(user);
        if (Server.IsExternal) return new ConnectionReference(this, Name, () => ConnectionString);
        _users.Add((user, access));
        var password = _model.Secrets.GetOrCreate($"{Server.Name}-{user}-password");
        return new ConnectionReference(this, Name, () => $"Host=127.0.0.1;Port={Server.Port};Username={user};Password={password};Database={Name}",
            () => ConnectionReference.DatabaseProperties("postgresql", Server.Port, user, password, Name));
    }

    private string WithDatabase(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Database = Name }.ConnectionString;

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
            var database = Tools.QuotedIdentifier(Name);
            await using (var admin = new NpgsqlConnection(Server.AdminConnectionString))
            {
                await admin.OpenAsync(cancellationToken);
                // A failing statement is logged with its text by default; these carry passwords.
                await ExecuteAsync(admin, "SET log_min_error_statement = panic", cancellationToken);
                if (await ScalarAsync(admin, "SELECT 1 FROM pg_database WHERE datname = @p", Name, cancellationToken) is null)
                {
                    await ExecuteAsync(admin, $"CREATE DATABASE {database}", cancellationToken);
                }
                await ExecuteAsync(admin, $"REVOKE ALL ON DATABASE {database} FROM PUBLIC", cancellationToken);
                foreach (var (user, _) in _users)
                {
                    var role = Tools.QuotedIdentifier(user);
                    var password = _model.Secrets.GetOrCreate($"{Server.Name}-{user}-password").Replace("'", "''", StringComparison.Ordinal);
                    var exists = await ScalarAsync(admin, "SELECT 1 FROM pg_roles WHERE rolname = @p", user, cancellationToken) is not null;
                    await ExecuteAsync(admin, $"{(exists ? "ALTER" : "CREATE")} ROLE {role} LOGIN PASSWORD '{password}'", cancellationToken);
                    await ExecuteAsync(admin, $"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}", cancellationToken);
                }
            }
            await using var inDatabase = new NpgsqlConnection(ConnectionString);
            await inDatabase.OpenAsync(cancellationToken);
            await ExecuteAsync(inDatabase, "REVOKE ALL ON SCHEMA public FROM PUBLIC", cancellationToken);
            foreach (var (user, access) in _users)
            {
                var role = Tools.QuotedIdentifier(user);
                switch (access)
                {
                    case PostgresAccess.SchemaOwner owner:
                        var schema = Tools.QuotedIdentifier(owner.Schema);
                        await ExecuteAsync(inDatabase, $"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}", cancellationToken);
                        await ExecuteAsync(inDatabase, $"ALTER ROLE {role} IN DATABASE {database} SET search_path = {schema}", cancellationToken);
                        break;
                    case PostgresAccess.ReadAll:
                        await ExecuteAsync(inDatabase, $"GRANT pg_read_all_data TO {role}", cancellationToken);
                        break;
                }
            }
        }
        finally
        {
            Server.ProvisioningGate.Release();
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, string parameter, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("p", parameter);
        return await command.ExecuteScalarAsync(cancellationToken);
    }
}

public static class PostgresModelExtensions
{
    public static PostgresServer AddPostgres(this AppModel model, string name) => model.Add(new PostgresServer(model, name));
}
