using System.Data.Common;
using Dapper;

namespace Pii.FormApi.Data;

/// <summary>
/// Versioned schema of the <c>dnc</c> database. Each migration is idempotent (IF NOT EXISTS / OR REPLACE) because MariaDB
/// commits DDL implicitly; <c>schema_migrations</c> records what ran, and GET_LOCK serialises instances that start
/// together. Only the back office (the schema owner) runs them; the intake's user cannot create tables.
/// </summary>
internal static class Migrations
{
    private const string LockName = "dnc.schema_migrations";

    /// <summary>(version, name, statements). Append only; never edit a released migration.</summary>
    public static readonly IReadOnlyList<(int Version, string Name, string[] Statements)> All =
    [
        (1, "tables", [
            """
            CREATE TABLE IF NOT EXISTS encryption_keys (
              id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
              purpose VARCHAR(64) NOT NULL,
              kek_name VARCHAR(128) NOT NULL,
              kek_version INT NOT NULL,
              wrapped_dek VARCHAR(1024) NOT NULL,
              created_at DATETIME(6) NOT NULL,
              retired_at DATETIME(6) NULL,
              destroyed_at DATETIME(6) NULL,
              use_count BIGINT NOT NULL DEFAULT 0,
              KEY ix_purpose_retired (purpose, retired_at)
            ) ENGINE=InnoDB
            """,
            """
            CREATE TABLE IF NOT EXISTS dnc_preferences (
              id BINARY(16) NOT NULL PRIMARY KEY,
              first_name VARBINARY(1024) NOT NULL,
              middle_name VARBINARY(1024) NULL,
              last_name VARBINARY(1024) NOT NULL,
              phone VARBINARY(256) NOT NULL,
              email VARBINARY(1024) NOT NULL,
              phone_bidx BINARY(16) NOT NULL,
              email_bidx BINARY(16) NOT NULL,
              phone_dnc BOOLEAN NOT NULL,
              email_dnc BOOLEAN NOT NULL,
              dek_id INT NOT NULL,
              created_at DATETIME(6) NOT NULL,
              updated_at DATETIME(6) NOT NULL,
              row_version INT NOT NULL,
              KEY ix_phone_bidx (phone_bidx),
              KEY ix_email_bidx (email_bidx),
              KEY ix_updated (updated_at, id),
              KEY ix_dek (dek_id, id)
            ) ENGINE=InnoDB
            """,
            """
            CREATE TABLE IF NOT EXISTS dnc_erasures (
              id BINARY(16) NOT NULL PRIMARY KEY,
              erased_at DATETIME(6) NOT NULL,
              KEY ix_erased (erased_at, id)
            ) ENGINE=InnoDB
            """,
            """
            CREATE TABLE IF NOT EXISTS pii_access_log (
              id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
              at DATETIME(6) NOT NULL,
              actor_role VARCHAR(32) NOT NULL,
              actor_key CHAR(16) NOT NULL,
              action VARCHAR(32) NOT NULL,
              record_id BINARY(16) NULL,
              fields VARCHAR(255) NOT NULL,
              reason VARCHAR(500) NULL,
              outcome VARCHAR(16) NOT NULL,
              client_ip VARCHAR(45) NULL,
              trace_id CHAR(32) NULL,
              KEY ix_at (at, id),
              KEY ix_record (record_id, at)
            ) ENGINE=InnoDB
            """,
            """
            CREATE TABLE IF NOT EXISTS dek_reencryption_jobs (
              id BINARY(16) NOT NULL PRIMARY KEY,
              target_dek_id INT NOT NULL,
              source_dek_ids VARCHAR(1024) NOT NULL,
              cursor_dek_id INT NULL,
              cursor_id BINARY(16) NULL,
              passes INT NOT NULL DEFAULT 0,
              rows_reencrypted BIGINT NOT NULL DEFAULT 0,
              rows_skipped BIGINT NOT NULL DEFAULT 0,
              status VARCHAR(16) NOT NULL,
              created_at DATETIME(6) NOT NULL,
              updated_at DATETIME(6) NOT NULL,
              finished_at DATETIME(6) NULL,
              KEY ix_status (status, created_at)
            ) ENGINE=InnoDB
            """,
        ]),
        // A row may only be written under a DEK that exists and is not retired. The locking read makes retirement and
        // inserts serialise: once a retirement commits, no later statement can store a row under that DEK, so the
        // re-encryption job's scan of a retired DEK is complete. Triggers run with the definer's (owner's) rights, so
        // the insert-only intake needs no SELECT. The intake reacts to this signal by taking a fresh DEK.
        (2, "dek guard triggers", [
            """
            CREATE OR REPLACE TRIGGER dnc_preferences_dek_guard_insert BEFORE INSERT ON dnc_preferences FOR EACH ROW
            BEGIN
              DECLARE usable INT DEFAULT 0;
              SELECT COUNT(*) INTO usable FROM encryption_keys
                WHERE id = NEW.dek_id AND retired_at IS NULL AND destroyed_at IS NULL LOCK IN SHARE MODE;
              IF usable = 0 THEN
                SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'dek_not_active';
              END IF;
            END
            """,
            """
            CREATE OR REPLACE TRIGGER dnc_preferences_dek_guard_update BEFORE UPDATE ON dnc_preferences FOR EACH ROW
            BEGIN
              DECLARE usable INT DEFAULT 0;
              IF NEW.dek_id <> OLD.dek_id THEN
                SELECT COUNT(*) INTO usable FROM encryption_keys
                  WHERE id = NEW.dek_id AND retired_at IS NULL AND destroyed_at IS NULL LOCK IN SHARE MODE;
                IF usable = 0 THEN
                  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'dek_not_active';
                END IF;
              END IF;
            END
            """,
        ]),
        // The job's status is polled while it runs: keep a running count instead of counting the rows left each time.
        (3, "re-encryption job remaining rows", [
            "ALTER TABLE dek_reencryption_jobs ADD COLUMN IF NOT EXISTS rows_remaining BIGINT NULL",
        ]),
        // The intake's INSERT … SELECT now does the insert guard's locking read itself (DncIntake.GuardedInsert), at a
        // fraction of a trigger's cost; the update guard stays (the re-encryption job and PATCH change rows).
        (4, "insert guard moves into the intake's statement", [
            "DROP TRIGGER IF EXISTS dnc_preferences_dek_guard_insert",
        ]),
        // A row that does not decrypt must not stall a re-encryption job forever: the job sets it aside here (ids, DEK and
        // a reason code only) and finishes the rest; its DEK then cannot be destroyed while the row is still under it.
        (5, "re-encryption quarantine", [
            "ALTER TABLE dek_reencryption_jobs ADD COLUMN IF NOT EXISTS rows_quarantined BIGINT NOT NULL DEFAULT 0",
            """
            CREATE TABLE IF NOT EXISTS dek_reencryption_quarantine (
              job_id BINARY(16) NOT NULL,
              record_id BINARY(16) NOT NULL,
              dek_id INT NOT NULL,
              reason VARCHAR(32) NOT NULL,
              quarantined_at DATETIME(6) NOT NULL,
              PRIMARY KEY (job_id, record_id),
              KEY ix_dek (dek_id)
            ) ENGINE=InnoDB
            """,
        ]),
    ];

    public static int LatestVersion => All[^1].Version;

    /// <summary>Applies every migration not yet recorded; returns how many ran.</summary>
    public static async Task<int> ApplyAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var locked = await connection.ExecuteScalarAsync<long?>(new CommandDefinition("SELECT GET_LOCK(@name, 60)", new { name = LockName }, cancellationToken: cancellationToken));
        if (locked != 1)
        {
            throw new InvalidOperationException("Timed out waiting for another instance's migrations.");
        }
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INT NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL, applied_at DATETIME(6) NOT NULL) ENGINE=InnoDB",
                cancellationToken: cancellationToken));
            var applied = (await connection.QueryAsync<int>(new CommandDefinition("SELECT version FROM schema_migrations", cancellationToken: cancellationToken))).ToHashSet();
            int ran = 0;
            foreach (var (version, name, statements) in All.Where(m => !applied.Contains(m.Version)))
            {
                foreach (var statement in statements)
                {
                    await connection.ExecuteAsync(new CommandDefinition(statement, cancellationToken: cancellationToken));
                }
                await connection.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, UTC_TIMESTAMP(6))",
                    new { version, name }, cancellationToken: cancellationToken));
                ran++;
            }
            return ran;
        }
        finally
        {
            await connection.ExecuteScalarAsync(new CommandDefinition("SELECT RELEASE_LOCK(@name)", new { name = LockName }, cancellationToken: CancellationToken.None));
        }
    }
}
