using System.Data.Common;
using System.Diagnostics;
using Dapper;

namespace Pii.FormApi.Data;

/// <summary>One access-log entry: who (role + key fingerprint), did what, to which record's which fields, why, from where.</summary>
internal sealed record AccessEntry(
    string ActorRole,
    string ActorKey,
    string Action,
    Guid? RecordId,
    string Fields,
    string? Reason,
    string Outcome,
    string? ClientIp);

/// <summary>An entry as the auditor reads it.</summary>
internal sealed record AccessLogEntry(
    long Id,
    DateTime At,
    string ActorRole,
    string ActorKey,
    string Action,
    Guid? RecordId,
    string Fields,
    string? Reason,
    string Outcome,
    string? ClientIp,
    string? TraceId);

/// <summary>
/// <c>pii_access_log</c>: append-only record of every back-office access. It holds record ids, column names, the caller's
/// stated reason, role and key fingerprint, never a field value. An erasure leaves one "erase" entry for the id.
/// </summary>
internal sealed class AccessLog(DncDatabase database, TimeProvider time)
{
    public async Task WriteAsync(AccessEntry entry, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await WriteAsync(connection, null, entry, cancellationToken);
    }

    public async Task WriteAsync(DbConnection connection, DbTransaction? transaction, AccessEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO pii_access_log (at, actor_role, actor_key, action, record_id, fields, reason, outcome, client_ip, trace_id)
            VALUES (@at, @role, @key, @action, @record, @fields, @reason, @outcome, @ip, @trace)
            """,
            new
            {
                at = time.GetUtcNow().UtcDateTime,
                role = entry.ActorRole,
                key = entry.ActorKey,
                action = entry.Action,
                record = entry.RecordId is { } id ? DncDatabase.ToBytes(id) : null,
                fields = entry.Fields,
                reason = entry.Reason,
                outcome = entry.Outcome,
                ip = entry.ClientIp,
                trace = Activity.Current?.TraceId.ToHexString(),
            }, transaction, cancellationToken: cancellationToken));
    }

    /// <summary>Newest first; <paramref name="before"/> is the keyset cursor (an entry id).</summary>
    public async Task<IReadOnlyList<AccessLogEntry>> ReadAsync(Guid? recordId, long? before, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition("""
            SELECT id, at, actor_role, actor_key, action, record_id, fields, reason, outcome, client_ip, trace_id FROM pii_access_log
            WHERE (@record IS NULL OR record_id = @record) AND (@before IS NULL OR id < @before)
            ORDER BY id DESC LIMIT @limit
            """,
            new { record = recordId is { } id ? DncDatabase.ToBytes(id) : null, before, limit }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new AccessLogEntry(r.id, DateTime.SpecifyKind(r.at, DateTimeKind.Utc), r.actor_role, r.actor_key, r.action,
            r.record_id is null ? null : DncDatabase.FromBytes(r.record_id), r.fields, r.reason, r.outcome, r.client_ip, r.trace_id))];
    }

    private sealed record Row(long id, DateTime at, string actor_role, string actor_key, string action, byte[]? record_id, string fields, string? reason, string outcome, string? client_ip, string? trace_id);
}
