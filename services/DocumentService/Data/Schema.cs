using Dapper;
using Npgsql;
using Pii.DocumentService.Documents;
using Pii.DocumentService.Patients;

namespace Pii.DocumentService.Data;

/// <summary>
/// The service's tables in its own schema <c>documents</c> (the AppHost makes the service's login its owner), created
/// idempotently at start (the schema itself exists already: the login may not create schemas). Every PII column is BYTEA holding a field ciphertext (Crypto/Fields format); blind indexes
/// are truncated HMACs. Object keys in S3 carry only random ids.
/// </summary>
/// <remarks>
/// MRN uniqueness moved from the deterministic ciphertext (unique index <c>patients_mrn</c>, which stops working once
/// the patients DEK is replaced) to the blind index <c>mrn_index</c>. A database made before that is upgraded at start:
/// the column is added (nullable), its unique index created, rows without an index are backfilled by decrypting their
/// MRN (<see cref="PatientRecords.BackfillMrnIndexAsync"/>), and only when no row is left without one does the column
/// become NOT NULL and <c>patients_mrn</c> go: with every row indexed, two rows with equal ciphertexts have equal MRNs
/// and so equal indexes, so the old index forbids nothing the new one allows, and dropping an index removes no data.
/// Rows that cannot be indexed (the same MRN already stored twice under two DEKs) are left as they are and reported.
/// Column <c>field_binding</c> (default 1 for rows that existed before it) records how a row's ciphertexts are bound to
/// it; rows at an older version are re-encrypted at start (<see cref="PatientRecords.RebindMrnsAsync"/>,
/// <see cref="Documents.DocumentStore.RebindFileNamesAsync"/>), and read safely until then.
/// </remarks>
/// <summary>What the start-up upgrade could not do: patients without an MRN index, rows left at an older binding.</summary>
internal sealed record SchemaReport(IReadOnlyList<Guid> Unindexed, IReadOnlyList<Guid> Unbound);

internal static class Schema
{
    private const string Ddl = """
        CREATE TABLE IF NOT EXISTS documents.deks (
            id          serial PRIMARY KEY,
            purpose     text NOT NULL,
            kek_name    text NOT NULL,
            kek_version int NOT NULL,
            ciphertext  text NOT NULL,
            created_at  timestamptz NOT NULL,
            retired_at  timestamptz,
            use_count   bigint NOT NULL DEFAULT 0);
        CREATE UNIQUE INDEX IF NOT EXISTS deks_one_active ON documents.deks (purpose) WHERE retired_at IS NULL;
        CREATE TABLE IF NOT EXISTS documents.service_keys (
            name        text PRIMARY KEY,
            kek_name    text NOT NULL,
            kek_version int NOT NULL,
            ciphertext  text NOT NULL);
        CREATE TABLE IF NOT EXISTS documents.patients (
            id                 uuid PRIMARY KEY,
            mrn                bytea NOT NULL,
            mrn_index          bytea NOT NULL,
            full_name          bytea NOT NULL,
            full_name_index    bytea NOT NULL,
            date_of_birth      bytea,
            address            bytea,
            ssn                bytea,
            ssn_index          bytea,
            ssn_last4_index    bytea,
            diagnosis_codes    bytea,
            created_at         timestamptz NOT NULL);
        ALTER TABLE documents.patients ADD COLUMN IF NOT EXISTS mrn_index bytea;
        CREATE UNIQUE INDEX IF NOT EXISTS patients_mrn_index ON documents.patients (mrn_index);
        ALTER TABLE documents.patients ADD COLUMN IF NOT EXISTS field_binding smallint NOT NULL DEFAULT 1;
        CREATE INDEX IF NOT EXISTS patients_full_name_index ON documents.patients (full_name_index);
        CREATE INDEX IF NOT EXISTS patients_ssn_index ON documents.patients (ssn_index);
        CREATE INDEX IF NOT EXISTS patients_ssn_last4_index ON documents.patients (ssn_last4_index);
        CREATE TABLE IF NOT EXISTS documents.patient_diagnoses (
            patient_id  uuid NOT NULL REFERENCES documents.patients (id) ON DELETE CASCADE,
            code_index  bytea NOT NULL,
            PRIMARY KEY (patient_id, code_index));
        CREATE INDEX IF NOT EXISTS patient_diagnoses_code ON documents.patient_diagnoses (code_index);
        CREATE TABLE IF NOT EXISTS documents.documents (
            id                 uuid PRIMARY KEY,
            patient_id         uuid NOT NULL REFERENCES documents.patients (id),
            object_key         text NOT NULL UNIQUE,
            file_name          bytea NOT NULL,
            file_name_index    bytea NOT NULL,
            content_type       text NOT NULL,
            plaintext_length   bigint NOT NULL,
            ciphertext_length  bigint NOT NULL,
            frame_length       int NOT NULL,
            ciphertext_prefix  bytea NOT NULL,
            ciphertext_suffix  bytea NOT NULL,
            key_references     text NOT NULL,
            content_hmac       bytea NOT NULL,
            uploaded_by        text NOT NULL,
            uploaded_at        timestamptz NOT NULL);
        ALTER TABLE documents.documents ADD COLUMN IF NOT EXISTS field_binding smallint NOT NULL DEFAULT 1;
        CREATE INDEX IF NOT EXISTS documents_patient ON documents.documents (patient_id);
        CREATE INDEX IF NOT EXISTS documents_file_name_index ON documents.documents (file_name_index);
        CREATE TABLE IF NOT EXISTS documents.pending_uploads (
            upload_id   text PRIMARY KEY,
            object_key  text NOT NULL,
            started_at  timestamptz NOT NULL);
        CREATE TABLE IF NOT EXISTS documents.access_log (
            id           bigserial PRIMARY KEY,
            at           timestamptz NOT NULL,
            role         text NOT NULL,
            action       text NOT NULL,
            patient_id   uuid,
            document_id  uuid,
            reason       text,
            outcome      text NOT NULL);
        """;

    /// <summary>Rows per backfill query: bounds memory and the time one statement holds row locks.</summary>
    public const int MrnBackfillBatchSize = 500;

    private const string MrnIndexComplete = """
        ALTER TABLE documents.patients ALTER COLUMN mrn_index SET NOT NULL;
        DROP INDEX IF EXISTS documents.patients_mrn;
        """;

    /// <summary>
    /// Creates or upgrades the tables; returns the ids of patients left without an MRN index and of rows left at an older
    /// binding version (see remarks).
    /// </summary>
    public static async Task<SchemaReport> EnsureAsync(NpgsqlDataSource database, PatientRecords patients, DocumentStore documents, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        // Two instances starting together must not race on CREATE … IF NOT EXISTS (it is not atomic in PostgreSQL).
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(7243001)", cancellationToken: cancellationToken));
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(Ddl, cancellationToken: cancellationToken));
            var unindexed = await patients.BackfillMrnIndexAsync(MrnBackfillBatchSize, cancellationToken);
            if (unindexed.Count == 0 && await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "SELECT is_nullable = 'YES' FROM information_schema.columns WHERE table_schema = 'documents' AND table_name = 'patients' AND column_name = 'mrn_index'",
                cancellationToken: cancellationToken)))
            {
                await connection.ExecuteAsync(new CommandDefinition(MrnIndexComplete, cancellationToken: cancellationToken));
            }
            var unboundPatients = await patients.RebindMrnsAsync(MrnBackfillBatchSize, cancellationToken);
            var unboundDocuments = await documents.RebindFileNamesAsync(MrnBackfillBatchSize, cancellationToken);
            return new SchemaReport(unindexed, [.. unboundPatients, .. unboundDocuments]);
        }
        finally
        {
            await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_unlock(7243001)", cancellationToken: CancellationToken.None));
        }
    }
}
