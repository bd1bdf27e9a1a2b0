using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using MySqlConnector;
using Npgsql;

namespace Pii.BackupService.Backups;

/// <summary>
/// Command lines of the dump and restore tools. Passwords travel in the child's environment (PGPASSWORD, MYSQL_PWD),
/// never in arguments (visible in /proc to every local user).
/// </summary>
internal sealed class DumpTools(IOptions<BackupOptions> options)
{
    private readonly BackupOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, string> _versions = new(StringComparer.Ordinal);

    public string PgDump => Path.Combine(_options.PostgresBinDirectory, "pg_dump");
    public string PgRestore => Path.Combine(_options.PostgresBinDirectory, "pg_restore");
    public string Psql => Path.Combine(_options.PostgresBinDirectory, "psql");
    public string MariaDbDump => Path.Combine(_options.MariaDbBinDirectory, "mariadb-dump");
    public string MariaDb => Path.Combine(_options.MariaDbBinDirectory, "mariadb");

    /// <summary>
    /// pg_dump of one database in custom format, uncompressed (<c>-Z0</c>: zstd on another core is faster and smaller
    /// than pg_dump's own single-threaded zlib), inside the exported <paramref name="snapshot"/> the row counts came from.
    /// </summary>
    public ChildProcess StartPgDump(string connectionString, string snapshot) =>
        ChildProcess.Start(PgDump, ["--format=custom", "--compress=0", $"--snapshot={snapshot}", "--no-password"],
            PostgresEnvironment(connectionString, database: null), redirectInput: false);

    /// <summary>mariadb-dump in one consistent-snapshot transaction, routines/triggers/events included, binaries as hex.</summary>
    public ChildProcess StartMariaDbDump(string connectionString)
    {
        var c = new MySqlConnectionStringBuilder(connectionString);
        return ChildProcess.Start(MariaDbDump,
            [.. MariaDbConnectionArguments(c), "--single-transaction", "--quick", "--routines", "--triggers", "--events", "--hex-blob",
                "--no-tablespaces", "--skip-dump-date", c.Database],
            MariaDbEnvironment(c), redirectInput: false);
    }

    /// <summary>pg_restore turning a custom-format archive on stdin into SQL on stdout (applied by psql in one transaction).</summary>
    public ChildProcess StartPgRestoreToSql(bool clean, bool keepOwners)
    {
        List<string> arguments = ["--file=-", "--exit-on-error"];
        if (clean) arguments.AddRange(["--clean", "--if-exists"]);
        if (!keepOwners) arguments.AddRange(["--no-owner", "--no-privileges"]);
        return ChildProcess.Start(PgRestore, arguments, new Dictionary<string, string>(), redirectInput: true);
    }

    /// <summary>psql applying SQL from stdin in a single transaction that any error rolls back.</summary>
    public ChildProcess StartPsql(string connectionString, string database) =>
        ChildProcess.Start(Psql, ["--no-psqlrc", "--quiet", "--no-align", "--tuples-only", "--single-transaction", "--set=ON_ERROR_STOP=1", "--file=-"],
            PostgresEnvironment(connectionString, database), redirectInput: true);

    /// <summary>The mariadb client applying SQL from stdin into <paramref name="database"/>, stopping at the first error.</summary>
    public ChildProcess StartMariaDb(string connectionString, string database)
    {
        var c = new MySqlConnectionStringBuilder(connectionString);
        return ChildProcess.Start(MariaDb, [.. MariaDbConnectionArguments(c), "--batch", "--skip-column-names", database], MariaDbEnvironment(c), redirectInput: true);
    }

    /// <summary>The tool's own version line (e.g. "pg_dump (PostgreSQL) 15.18"), read once.</summary>
    public async Task<string> VersionAsync(string tool, CancellationToken cancellationToken)
    {
        if (_versions.TryGetValue(tool, out var known)) return known;
        using var process = ChildProcess.Start(tool, ["--version"], new Dictionary<string, string>(), redirectInput: false);
        using var reader = new StreamReader(process.StandardOutput);
        var line = (await reader.ReadLineAsync(cancellationToken))?.Trim() ?? "unknown";
        await process.WaitAsync(cancellationToken);
        return _versions[tool] = line;
    }

    private static Dictionary<string, string> PostgresEnvironment(string connectionString, string? database)
    {
        var c = new NpgsqlConnectionStringBuilder(connectionString);
        var environment = new Dictionary<string, string>
        {
            ["PGHOST"] = c.Host ?? "127.0.0.1",
            ["PGPORT"] = c.Port.ToString(CultureInfo.InvariantCulture),
            ["PGUSER"] = c.Username ?? "",
            ["PGDATABASE"] = database ?? c.Database ?? "",
            ["PGCONNECT_TIMEOUT"] = "10",
            ["PGAPPNAME"] = "backupservice",
        };
        if (!string.IsNullOrEmpty(c.Password)) environment["PGPASSWORD"] = c.Password;
        return environment;
    }

    private static string[] MariaDbConnectionArguments(MySqlConnectionStringBuilder c) =>
        ["--no-defaults", "--protocol=TCP", $"--host={c.Server}", $"--port={c.Port}", $"--user={c.UserID}", "--skip-ssl"];

    private static Dictionary<string, string> MariaDbEnvironment(MySqlConnectionStringBuilder c) =>
        string.IsNullOrEmpty(c.Password) ? [] : new Dictionary<string, string> { ["MYSQL_PWD"] = c.Password };
}
