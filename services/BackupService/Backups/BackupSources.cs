using MySqlConnector;
using Npgsql;

namespace Pii.BackupService.Backups;

internal enum SourceEngine
{
    Postgres,
    MariaDb,

    /// <summary>The key service's own store, through its snapshot endpoint (wrapped for the recovery key only).</summary>
    KeyService,
}

/// <summary>A store that is backed up: its name (the connection-string name), engine and read-only login.</summary>
internal sealed record BackupSource(string Name, SourceEngine Engine, string ConnectionString)
{
    /// <summary>The database name inside the connection string.</summary>
    public string Database => Engine switch
    {
        SourceEngine.Postgres => new NpgsqlConnectionStringBuilder(ConnectionString).Database ?? Name,
        SourceEngine.MariaDb => new MySqlConnectionStringBuilder(ConnectionString).Database is { Length: > 0 } db ? db : Name,
        _ => Name,
    };

    /// <summary>A store whose backups must never depend on keys that live inside it.</summary>
    public bool RecoveryKeyOnly => Engine == SourceEngine.KeyService;
}

/// <summary>
/// The sources (<c>ConnectionStrings:records</c>, <c>analytics</c> — PostgreSQL; <c>dnc</c> — MariaDB; <c>vault</c> — the
/// key service at VAULT_ADDR, its store through <c>sys/storage/raft/snapshot</c>) and the logins a
/// restore writes with (<c>ConnectionStrings:restore-postgres</c>, <c>restore-mariadb</c>: may create databases; an
/// in-place restore needs a superuser so owners and grants come back as they were).
/// </summary>
internal sealed class BackupSources
{
    private readonly Dictionary<string, BackupSource> _sources;

    public BackupSources(IConfiguration configuration)
    {
        string Required(string name) => configuration.GetConnectionString(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"ConnectionStrings:{name} is not set.");
        _sources = new Dictionary<string, BackupSource>(StringComparer.Ordinal)
        {
            ["records"] = new("records", SourceEngine.Postgres, Required("records")),
            ["analytics"] = new("analytics", SourceEngine.Postgres, Required("analytics")),
            ["dnc"] = new("dnc", SourceEngine.MariaDb, Required("dnc")),
            ["vault"] = new("vault", SourceEngine.KeyService, Pii.Services.Shared.DependencyChecks.KeyServiceAddress(configuration).ToString()),
        };
        RestorePostgres = configuration.GetConnectionString("restore-postgres");
        RestoreMariaDb = configuration.GetConnectionString("restore-mariadb");
    }

    public IReadOnlyCollection<BackupSource> All => _sources.Values;

    public string? RestorePostgres { get; }
    public string? RestoreMariaDb { get; }

    public BackupSource? Find(string? name) => name is not null && _sources.TryGetValue(name, out var source) ? source : null;

    public string? RestoreLogin(SourceEngine engine) => engine == SourceEngine.Postgres ? RestorePostgres : RestoreMariaDb;
}
