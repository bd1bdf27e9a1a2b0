using Dapper;
using Npgsql;

namespace Pii.DocumentService.Data;

/// <summary>
/// The service's tables in its own schema <c>documents</c> (the AppHost makes the service's login its owner), created
/// idempotently at start (the schema itself exists already: the login may not create schemas). Every PII column is BYTEA holding a field ciphertext (Crypto/Fields format); blind indexes
/// are truncated HMACs. Object keys in S3 carry only random ids.
/// </summary>
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
            full_name          bytea NOT NULL,
            full_name_index    bytea NOT NULL,
            date_of_birth      bytea,
            address            bytea,
            ssn                bytea,
            ssn_index          bytea,
            ssn_last4_index    bytea,
            diagnosis_codes    bytea,
            created_at         timestamptz NOT NULL);
        CREATE UNIQUE INDEX IF NOT EXISTS patients_mrn ON documents.patients (mrn);
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

    public static async Task EnsureAsync(NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        // Two instances starting together must not race on CREATE … IF NOT EXISTS (it is not atomic in PostgreSQL).
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_lock(7243001)", cancellationToken: cancellationToken));
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(Ddl, cancellationToken: cancellationToken));
        }
        finally
        {
            await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_unlock(7243001)", cancellationToken: CancellationToken.None));
        }
    }
}
