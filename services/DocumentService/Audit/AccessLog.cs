using System.Security.Claims;
using Dapper;
using Npgsql;
using Pii.DocumentService.Auth;

namespace Pii.DocumentService.Audit;

/// <summary>One row per read, reveal, upload, delete and erasure, in <c>documents.access_log</c>. No PII: ids, role, action, reason.</summary>
internal sealed record AccessEntry(long Id, DateTime At, string Role, string Action, Guid? PatientId, Guid? DocumentId, string? Reason, string Outcome);

internal sealed class AccessLog(NpgsqlDataSource database, TimeProvider time)
{
    public async Task WriteAsync(ClaimsPrincipal user, string action, Guid? patientId, Guid? documentId, string outcome, string? reason = null,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO documents.access_log (at, role, action, patient_id, document_id, reason, outcome) VALUES (@at, @role, @action, @patientId, @documentId, @reason, @outcome)",
            new { at = time.GetUtcNow().UtcDateTime, role = Roles.Of(user), action, patientId, documentId, reason, outcome }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<AccessEntry>> ReadAsync(long afterId, int limit, Guid? documentId, Guid? patientId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<AccessEntry>(new CommandDefinition(
            "SELECT id AS Id, at AS At, role AS Role, action AS Action, patient_id AS PatientId, document_id AS DocumentId, reason AS Reason, outcome AS Outcome "
            + "FROM documents.access_log WHERE id > @afterId AND (@documentId::uuid IS NULL OR document_id = @documentId) "
            + "AND (@patientId::uuid IS NULL OR patient_id = @patientId) ORDER BY id LIMIT @limit",
            new { afterId, limit, documentId, patientId }, cancellationToken: cancellationToken));
        return [.. rows];
    }
}
