using Dapper;
using Npgsql;

namespace Pii.DocumentService.Documents;

/// <summary>
/// A document's metadata row. File name is a tier-2 ciphertext. <see cref="CiphertextPrefix"/> (first 4 KiB: the message
/// header) and <see cref="CiphertextSuffix"/> (the final frame) are copies of authenticated ciphertext kept so a range read
/// fetches only the frames it needs from S3; they are verified like any other byte of the message.
/// </summary>
internal sealed record DocumentRow(
    Guid Id, Guid PatientId, string ObjectKey, byte[] FileName, byte[] FileNameIndex, string ContentType, long PlaintextLength, long CiphertextLength,
    int FrameLength, byte[] CiphertextPrefix, byte[] CiphertextSuffix, string KeyReferences, byte[] ContentHmac, string UploadedBy, DateTime UploadedAt,
    short FieldBinding);

/// <summary>Metadata in <c>documents.documents</c> and the <c>pending_uploads</c> ledger of multipart uploads in progress.</summary>
internal sealed class DocumentCatalog(NpgsqlDataSource database)
{
    private const string Columns = "id AS Id, patient_id AS PatientId, object_key AS ObjectKey, file_name AS FileName, file_name_index AS FileNameIndex, "
        + "content_type AS ContentType, plaintext_length AS PlaintextLength, ciphertext_length AS CiphertextLength, frame_length AS FrameLength, "
        + "ciphertext_prefix AS CiphertextPrefix, ciphertext_suffix AS CiphertextSuffix, key_references AS KeyReferences, content_hmac AS ContentHmac, uploaded_by AS UploadedBy, uploaded_at AS UploadedAt, field_binding AS FieldBinding";

    public async Task AddPendingAsync(string uploadId, string objectKey, DateTime startedAt, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO documents.pending_uploads (upload_id, object_key, started_at) VALUES (@uploadId, @objectKey, @startedAt)",
            new { uploadId, objectKey, startedAt }, cancellationToken: cancellationToken));
    }

    public async Task RemovePendingAsync(string uploadId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM documents.pending_uploads WHERE upload_id = @uploadId", new { uploadId }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<(string UploadId, string ObjectKey)>> PendingOlderThanAsync(DateTime cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string, string)>(new CommandDefinition(
            "SELECT upload_id, object_key FROM documents.pending_uploads WHERE started_at < @cutoff", new { cutoff }, cancellationToken: cancellationToken));
        return [.. rows];
    }

    /// <summary>Commits the metadata and clears the pending entry in one transaction: the document becomes visible here.</summary>
    public async Task CommitAsync(DocumentRow row, string uploadId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO documents.documents (id, patient_id, object_key, file_name, file_name_index, content_type, plaintext_length, ciphertext_length, "
            + "frame_length, ciphertext_prefix, ciphertext_suffix, key_references, content_hmac, uploaded_by, uploaded_at, field_binding) VALUES (@Id, @PatientId, @ObjectKey, "
            + "@FileName, @FileNameIndex, @ContentType, @PlaintextLength, @CiphertextLength, @FrameLength, @CiphertextPrefix, @CiphertextSuffix, @KeyReferences, @ContentHmac, @UploadedBy, @UploadedAt, @FieldBinding)",
            row, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM documents.pending_uploads WHERE upload_id = @uploadId", new { uploadId }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<DocumentRow?> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<DocumentRow>(new CommandDefinition(
            $"SELECT {Columns} FROM documents.documents WHERE id = @id", new { id }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<DocumentRow>> ListAsync(Guid? patientId, byte[]? fileNameIndex, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<DocumentRow>(new CommandDefinition(
            $"SELECT {Columns} FROM documents.documents WHERE (@patientId::uuid IS NULL OR patient_id = @patientId) "
            + "AND (@fileNameIndex::bytea IS NULL OR file_name_index = @fileNameIndex) ORDER BY uploaded_at DESC LIMIT @limit",
            new { patientId, fileNameIndex, limit }, cancellationToken: cancellationToken));
        return [.. rows];
    }

    /// <summary>Rows at a binding version below <paramref name="binding"/>, by id after <paramref name="after"/>.</summary>
    public async Task<IReadOnlyList<DocumentRow>> BelowBindingAsync(short binding, Guid after, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<DocumentRow>(new CommandDefinition(
            $"SELECT {Columns} FROM documents.documents WHERE field_binding < @binding AND id > @after ORDER BY id LIMIT @limit",
            new { binding, after, limit }, cancellationToken: cancellationToken));
        return [.. rows];
    }

    /// <summary>Replaces a row's file-name ciphertext and binding version, unless the row changed since it was read.</summary>
    public async Task RebindAsync(DocumentRow row, byte[] fileName, short binding, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE documents.documents SET file_name = @bound, field_binding = @binding WHERE id = @Id AND patient_id = @PatientId AND file_name = @old AND field_binding = @FieldBinding",
            new { bound = fileName, binding, row.Id, row.PatientId, old = row.FileName, row.FieldBinding }, cancellationToken: cancellationToken));
    }

    public async Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition("DELETE FROM documents.documents WHERE id = @id", new { id }, cancellationToken: cancellationToken)) == 1;
    }

    public async Task<bool> HasObjectAsync(string objectKey, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM documents.documents WHERE object_key = @objectKey) OR EXISTS (SELECT 1 FROM documents.pending_uploads WHERE object_key = @objectKey)",
            new { objectKey }, cancellationToken: cancellationToken));
    }
}
