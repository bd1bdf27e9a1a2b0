using System.Text.Json;
using Microsoft.Data.Sqlite;
using Pii.Kms.Auth;
using Pii.Kms.Transit;

namespace Pii.Kms.Storage;

/// <summary>
/// SQLite (WAL) persistence. Key rings are stored whole, one sealed row per key, so every change is a single
/// atomic row write inside a transaction: a crash leaves either the old or the new ring, never a mix.
/// Tokens are stored as SHA-256 hashes only (revoked ones as hashes too, so a token file cannot bring them back);
/// ACL policies are not secret and stored as text.
/// The store owns the sealer (and zeroes its key on dispose).
/// </summary>
public sealed class KmsStore : IDisposable
{
    private readonly string _connectionString;
    private readonly MasterKeySealer? _sealer;
    private readonly Lock _writeLock = new();
    private readonly SqliteConnection _connection;

    public KmsStore(string path, MasterKeySealer? sealer)
    {
        PrivateFiles.Prepare(path, path + "-wal", path + "-shm");
        _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString();
        _sealer = sealer;
        _connection = new SqliteConnection(_connectionString);
        _connection.Open();
        Execute("PRAGMA journal_mode=WAL;");
        Execute("PRAGMA synchronous=FULL;");
        Execute("""
            CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS transit_keys (name TEXT PRIMARY KEY, sealed BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, entry TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS revoked_tokens (hash TEXT PRIMARY KEY, revoked_at INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS acl_policies (name TEXT PRIMARY KEY, policy TEXT NOT NULL);
            """);
    }

    public bool IsSealed => _sealer is null;

    /// <summary>Checks the master key against the sealed check value; the first start with a key writes it.</summary>
    public bool VerifyMasterKey()
    {
        var sealer = Sealer;
        const string id = "meta:seal-check";
        var existing = ReadBlob("SELECT value FROM meta WHERE name = 'seal-check'");
        if (existing is null)
        {
            WriteInTransaction(cmd =>
            {
                cmd.CommandText = "INSERT INTO meta (name, value) VALUES ('seal-check', $v)";
                cmd.Parameters.AddWithValue("$v", sealer.Seal(id, "pii-kms-unsealed"u8));
            });
            return true;
        }

        try
        {
            sealer.Open(id, existing);
            return true;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
    }

    /// <summary>A sealed secret stored in meta (e.g. the audit HMAC key), created on first use.</summary>
    public byte[] GetOrCreateSecret(string name, Func<byte[]> create)
    {
        var sealer = Sealer;
        var id = "meta:" + name;
        lock (_writeLock)
        {
            var existing = ReadBlob("SELECT value FROM meta WHERE name = $n", ("$n", name));
            if (existing is not null)
            {
                return sealer.Open(id, existing);
            }

            var secret = create();
            WriteInTransaction(cmd =>
            {
                cmd.CommandText = "INSERT INTO meta (name, value) VALUES ($n, $v)";
                cmd.Parameters.AddWithValue("$n", name);
                cmd.Parameters.AddWithValue("$v", sealer.Seal(id, secret));
            });
            return secret;
        }
    }

    /// <summary>A non-secret setting (e.g. the transit mount's disable_upsert), null when never written.</summary>
    public string? GetSetting(string name)
    {
        var value = ReadBlob("SELECT value FROM meta WHERE name = $n", ("$n", "setting:" + name));
        return value is null ? null : System.Text.Encoding.UTF8.GetString(value);
    }

    public void SaveSetting(string name, string value) => WriteInTransaction(cmd =>
    {
        cmd.CommandText = "INSERT INTO meta (name, value) VALUES ($n, $v) ON CONFLICT(name) DO UPDATE SET value = excluded.value";
        cmd.Parameters.AddWithValue("$n", "setting:" + name);
        cmd.Parameters.AddWithValue("$v", System.Text.Encoding.UTF8.GetBytes(value));
    });

    public IReadOnlyList<TransitPolicy> LoadKeys()
    {
        var sealer = Sealer;
        var result = new List<TransitPolicy>();
        lock (_writeLock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT name, sealed FROM transit_keys";
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                var name = reader.GetString(0);
                var json = sealer.Open("key:" + name, (byte[])reader[1]);
                try
                {
                    result.Add(StoredKey.Deserialize(json));
                }
                finally
                {
                    System.Security.Cryptography.CryptographicOperations.ZeroMemory(json);
                }
            }
        }

        return result;
    }

    public void SaveKey(TransitPolicy policy)
    {
        var sealer = Sealer;
        var json = StoredKey.Serialize(policy);
        try
        {
            var sealedRecord = sealer.Seal("key:" + policy.Name, json);
            WriteInTransaction(cmd =>
            {
                cmd.CommandText = "INSERT INTO transit_keys (name, sealed) VALUES ($n, $s) ON CONFLICT(name) DO UPDATE SET sealed = excluded.sealed";
                cmd.Parameters.AddWithValue("$n", policy.Name);
                cmd.Parameters.AddWithValue("$s", sealedRecord);
            });
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(json);
        }
    }

    public void DeleteKey(string name) => WriteInTransaction(cmd =>
    {
        cmd.CommandText = "DELETE FROM transit_keys WHERE name = $n";
        cmd.Parameters.AddWithValue("$n", name);
    });

    public IReadOnlyList<TokenEntry> LoadTokens()
    {
        var result = new List<TokenEntry>();
        lock (_writeLock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT entry FROM tokens";
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                result.Add(JsonSerializer.Deserialize(reader.GetString(0), StoreJsonContext.Default.TokenEntry)!);
            }
        }

        return result;
    }

    public void SaveToken(TokenEntry entry) => WriteInTransaction(cmd =>
    {
        cmd.CommandText = "INSERT INTO tokens (hash, entry) VALUES ($h, $e) ON CONFLICT(hash) DO UPDATE SET entry = excluded.entry";
        cmd.Parameters.AddWithValue("$h", entry.Hash);
        cmd.Parameters.AddWithValue("$e", JsonSerializer.Serialize(entry, StoreJsonContext.Default.TokenEntry));
    });

    public IReadOnlySet<string> LoadRevokedTokens()
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        lock (_writeLock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT hash FROM revoked_tokens";
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                result.Add(reader.GetString(0));
            }
        }

        return result;
    }

    /// <summary>Deletes the tokens and keeps their hashes as revoked, in one transaction.</summary>
    public void RevokeTokens(IReadOnlyCollection<string> hashes, long revokedAtUnixSeconds)
    {
        lock (_writeLock)
        {
            using var transaction = _connection.BeginTransaction();
            foreach (var hash in hashes)
            {
                using var cmd = _connection.CreateCommand();
                cmd.Transaction = transaction;
                cmd.CommandText = """
                    DELETE FROM tokens WHERE hash = $h;
                    INSERT INTO revoked_tokens (hash, revoked_at) VALUES ($h, $t) ON CONFLICT(hash) DO NOTHING;
                    """;
                cmd.Parameters.AddWithValue("$h", hash);
                cmd.Parameters.AddWithValue("$t", revokedAtUnixSeconds);
                cmd.ExecuteNonQuery();
            }

            transaction.Commit();
        }
    }

    public IReadOnlyDictionary<string, string> LoadAclPolicies()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        lock (_writeLock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT name, policy FROM acl_policies";
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                result[reader.GetString(0)] = reader.GetString(1);
            }
        }

        return result;
    }

    public void SaveAclPolicy(string name, string text) => WriteInTransaction(cmd =>
    {
        cmd.CommandText = "INSERT INTO acl_policies (name, policy) VALUES ($n, $p) ON CONFLICT(name) DO UPDATE SET policy = excluded.policy";
        cmd.Parameters.AddWithValue("$n", name);
        cmd.Parameters.AddWithValue("$p", text);
    });

    public void DeleteAclPolicy(string name) => WriteInTransaction(cmd =>
    {
        cmd.CommandText = "DELETE FROM acl_policies WHERE name = $n";
        cmd.Parameters.AddWithValue("$n", name);
    });

    public void Dispose()
    {
        _connection.Dispose();
        _sealer?.Dispose();
    }

    private MasterKeySealer Sealer => _sealer ?? throw new InvalidOperationException("The store is sealed.");

    private void WriteInTransaction(Action<SqliteCommand> prepare)
    {
        lock (_writeLock)
        {
            using var transaction = _connection.BeginTransaction();
            using var cmd = _connection.CreateCommand();
            cmd.Transaction = transaction;
            prepare(cmd);
            cmd.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    private byte[]? ReadBlob(string sql, params (string Name, object Value)[] parameters)
    {
        lock (_writeLock)
        {
            using var cmd = _connection.CreateCommand();
            cmd.CommandText = sql;
            foreach (var (name, value) in parameters)
            {
                cmd.Parameters.AddWithValue(name, value);
            }

            return cmd.ExecuteScalar() as byte[];
        }
    }

    private void Execute(string sql)
    {
        using var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
