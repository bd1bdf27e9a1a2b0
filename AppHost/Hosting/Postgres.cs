using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
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
/// PostgreSQL 15 from /usr/lib/postgresql/15/bin run by DCP as a plain process: initdb on first start with
/// scram-sha-256 password auth, TCP on 127.0.0.1 only, no Unix socket, as the <c>postgres</c> user when the AppHost
/// is root (PostgreSQL refuses root). A small sh wrapper turns DCP's SIGTERM into SIGINT: for PostgreSQL SIGTERM is a
/// "smart" shutdown that waits for every client, which would outlast DCP's grace period and end in SIGKILL.
/// Its connection string is the administrator's (Aspire's server shape); services get logins of their own.
/// </summary>
public sealed class PostgresServerResource(string name, string workingDirectory, int port, ParameterResource password, string passwordValue)
    : ExecutableResource(name, "/bin/sh", workingDirectory), IResourceWithConnectionString
{
    public const string BinDirectory = "/usr/lib/postgresql/15/bin";

    public int Port { get; } = port;

    public ParameterResource Password { get; } = password;

    internal List<PostgresDatabaseResource> Databases { get; } = [];

    /// <summary>Provisioning of the databases of one server runs one at a time (CREATE ROLE races otherwise).</summary>
    internal SemaphoreSlim ProvisioningGate { get; } = new(1, 1);

    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Password={Password}");

    /// <summary>The administrator's connection string, resolved (the AppHost's own connections and tests).</summary>
    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=postgres;Password={passwordValue};Timeout=5;Pooling=false";
}

/// <summary>
/// A database inside a <see cref="PostgresServerResource"/>: created when the server is ready, CONNECT revoked from
/// PUBLIC, and one login per service (<see cref="PostgresLoginResource"/>) holding only the access it was given.
/// </summary>
public sealed class PostgresDatabaseResource(string name, PostgresServerResource server)
    : Resource(name), IResourceWithParent<PostgresServerResource>, IResourceWithConnectionString
{
    private readonly object _gate = new();
    private Task? _provisioned;

    public PostgresServerResource Parent { get; } = server;

    internal List<PostgresLoginResource> Logins { get; } = [];

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{Parent};Database={Name}");

    /// <summary>The administrator's connection string with <c>Database=</c> (tests seed and inspect through it).</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder(Parent.AdminConnectionString) { Database = Name }.ConnectionString;

    /// <summary>Creates the database, its logins and their grants once; every later call awaits the same work.</summary>
    internal Task EnsureProvisionedAsync(CancellationToken cancellationToken)
    {
        lock (_gate) return _provisioned ??= ProvisionAsync(cancellationToken);
    }

    private async Task ProvisionAsync(CancellationToken cancellationToken)
    {
        await Parent.ProvisioningGate.WaitAsync(cancellationToken);
        try
        {
            var database = Tools.QuotedIdentifier(Name);
            await using (var admin = new NpgsqlConnection(Parent.AdminConnectionString))
            {
                await admin.OpenAsync(cancellationToken);
                // A failing statement is logged with its text by default; these carry passwords.
                await ExecuteAsync(admin, "SET log_min_error_statement = panic", cancellationToken);
                if (await ScalarAsync(admin, "SELECT 1 FROM pg_database WHERE datname = @p", Name, cancellationToken) is null)
                {
                    await ExecuteAsync(admin, $"CREATE DATABASE {database}", cancellationToken);
                }
                await ExecuteAsync(admin, $"REVOKE ALL ON DATABASE {database} FROM PUBLIC", cancellationToken);
                foreach (var login in Logins)
                {
                    var role = Tools.QuotedIdentifier(login.User);
                    var password = login.PasswordValue.Replace("'", "''", StringComparison.Ordinal);
                    var exists = await ScalarAsync(admin, "SELECT 1 FROM pg_roles WHERE rolname = @p", login.User, cancellationToken) is not null;
                    await ExecuteAsync(admin, $"{(exists ? "ALTER" : "CREATE")} ROLE {role} LOGIN PASSWORD '{password}'", cancellationToken);
                    await ExecuteAsync(admin, $"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {role}", cancellationToken);
                }
            }
            await using var inDatabase = new NpgsqlConnection(ConnectionString);
            await inDatabase.OpenAsync(cancellationToken);
            await ExecuteAsync(inDatabase, "REVOKE ALL ON SCHEMA public FROM PUBLIC", cancellationToken);
            foreach (var login in Logins)
            {
                var role = Tools.QuotedIdentifier(login.User);
                switch (login.Access)
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
            Parent.ProvisioningGate.Release();
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

/// <summary>
/// One service's login to a database. Referencing it injects <c>ConnectionStrings__&lt;database&gt;</c> with this user's
/// credentials, so the service reads the same key whoever it logs in as.
/// </summary>
public sealed class PostgresLoginResource(string name, PostgresDatabaseResource database, string user, PostgresAccess access, ParameterResource password, string passwordValue)
    : Resource(name), IResourceWithParent<PostgresDatabaseResource>, IResourceWithConnectionString
{
    public PostgresDatabaseResource Parent { get; } = database;

    public string User { get; } = user;

    public PostgresAccess Access { get; } = access;

    internal string PasswordValue { get; } = passwordValue;

    public string? ConnectionStringEnvironmentVariable => $"ConnectionStrings__{Parent.Name}";

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create(
        $"Host=127.0.0.1;Port={Parent.Parent.Port.ToString(CultureInfo.InvariantCulture)};Username={User};Password={password};Database={Parent.Name}");

    /// <summary>This login's connection string, resolved (tests hand it to the service under test).</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Parent.Parent.Port.ToString(CultureInfo.InvariantCulture)};Username={User};Password={PasswordValue};Database={Parent.Name}";
}

public static class PostgresBuilderExtensions
{
    /// <summary>A local PostgreSQL 15 server with its data in <c>&lt;state&gt;/data/&lt;name&gt;</c>; fixed port 15432 unless configured.</summary>
    public static IResourceBuilder<PostgresServerResource> AddPostgres(this IDistributedApplicationBuilder builder, string name, int? port = 15432)
    {
        var state = LocalState.Of(builder);
        var secretName = $"{name}-password";
        var server = new PostgresServerResource(name, state.DataRoot, state.PortFor(name, port), state.Secret(secretName).Resource, state.SecretValue(secretName));
        var dataDirectory = state.DataPath(name);
        var postgres = $"{Path.Combine(PostgresServerResource.BinDirectory, "postgres")} -D '{dataDirectory}' -p {server.Port.ToString(CultureInfo.InvariantCulture)}"
            + " -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c log_destination=stderr"
            + (state.Durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        if (Prerequisites.IsRoot()) postgres = "setpriv --reuid=postgres --regid=postgres --init-groups " + postgres;

        var resource = builder.AddResource(server)
            .WithArgs("-c", $"{postgres} & pid=$!; trap 'kill -INT $pid' TERM INT; wait $pid; trap - TERM INT; wait $pid")
            .WithEndpoint(name: "tcp", scheme: "tcp", port: server.Port, targetPort: server.Port, isProxied: false)
            .WithProbe(ct => HealthProbes.PostgresQueryAsync(server.AdminConnectionString, ct));
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(server, (_, ct) => InitializeAsync(server, dataDirectory, state, ct));
        return resource;
    }

    /// <summary>A database of <paramref name="server"/>, created (with its logins) once the server is ready.</summary>
    public static IResourceBuilder<PostgresDatabaseResource> AddDatabase(this IResourceBuilder<PostgresServerResource> server, string name)
    {
        Tools.QuotedIdentifier(name);
        var database = new PostgresDatabaseResource(name, server.Resource);
        server.Resource.Databases.Add(database);
        return server.ApplicationBuilder.AddChild(database, "PostgresDatabase")
            .OnResourceReady((db, _, ct) => db.EnsureProvisionedAsync(ct));
    }

    /// <summary>A login for one service with only <paramref name="access"/>; its password is a generated secret parameter.</summary>
    public static IResourceBuilder<PostgresLoginResource> AddUser(this IResourceBuilder<PostgresDatabaseResource> database, string user, PostgresAccess access)
    {
        Tools.QuotedIdentifier(user);
        var state = LocalState.Of(database.ApplicationBuilder);
        var secretName = $"{database.Resource.Parent.Name}-{user}-password";
        var login = new PostgresLoginResource(Tools.ResourceName(database.Resource.Name, user), database.Resource, user, access,
            state.Secret(secretName).Resource, state.SecretValue(secretName));
        database.Resource.Logins.Add(login);
        return database.ApplicationBuilder.AddChild(login, "PostgresLogin")
            .OnResourceReady((l, _, ct) => l.Parent.EnsureProvisionedAsync(ct));
    }

    private static async Task InitializeAsync(PostgresServerResource server, string dataDirectory, LocalState state, CancellationToken cancellationToken)
    {
        await Prerequisites.EnsureAptPackagesAsync(["postgresql-15"], cancellationToken: cancellationToken);
        if (File.Exists(Path.Combine(dataDirectory, "PG_VERSION"))) return;

        Directory.CreateDirectory(dataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var passwordFile = Path.Combine(state.DataRoot, $".{server.Name}-initdb-password");
        await File.WriteAllTextAsync(passwordFile, state.SecretValue($"{server.Name}-password"), cancellationToken);
        File.SetUnixFileMode(passwordFile, SecretStore.FileMode);
        try
        {
            var asRoot = Prerequisites.IsRoot();
            if (asRoot)
            {
                await Tools.RunAsync("chown", ["-R", "postgres:postgres", dataDirectory, passwordFile], cancellationToken);
                await Tools.RunAsync("runuser", ["-u", "postgres", "--", "test", "-w", dataDirectory], cancellationToken,
                    $"the postgres user cannot reach {dataDirectory}: every parent folder must be searchable (chmod o+x) by it");
            }
            List<string> initdb = [Path.Combine(PostgresServerResource.BinDirectory, "initdb"), "-D", dataDirectory, "-U", "postgres", "--pwfile", passwordFile,
                "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"];
            if (!state.Durable) initdb.Add("--no-sync");
            if (asRoot) await Tools.RunAsync("runuser", ["-u", "postgres", "--", .. initdb], cancellationToken);
            else await Tools.RunAsync(initdb[0], initdb[1..], cancellationToken);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }
}
