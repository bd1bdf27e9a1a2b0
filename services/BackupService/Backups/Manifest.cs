using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pii.BackupService.Backups;

/// <summary>
/// What a completed backup is, written to <c>manifests/{source}/{id}.json</c> only after its object is complete. The
/// manifests in S3 are the source of truth; the service's catalog is rebuilt from them. Contains no data, no keys.
/// </summary>
internal sealed record Manifest
{
    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;
    public required Guid Id { get; init; }
    public required string Source { get; init; }
    public required string Engine { get; init; }
    public required string ObjectKey { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset CompletedAt { get; init; }
    public required string DumpTool { get; init; }
    public required string DumpToolVersion { get; init; }
    public required string DumpFormat { get; init; }
    public required long PlaintextBytes { get; init; }
    public required long CompressedBytes { get; init; }
    public required long ObjectBytes { get; init; }

    /// <summary>HMAC-SHA256 (key from the manifest key, bound to the id) of the dump bytes, hex.</summary>
    public required string PlaintextHmacSha256 { get; init; }

    /// <summary>SHA-256 of the stored object, hex: anyone can check the object is the one described, without keys.</summary>
    public required string ObjectSha256 { get; init; }

    public required SortedDictionary<string, long> RowCounts { get; init; }

    /// <summary>True when the counts come from the dump's own snapshot (PostgreSQL); false for a separate snapshot (MariaDB).</summary>
    public required bool RowCountsFromDumpSnapshot { get; init; }

    public required CompressionInfo Compression { get; init; }
    public required EncryptionInfo Encryption { get; init; }

    /// <summary>When set, the backup is kept whatever the retention says.</summary>
    public string? LegalHold { get; init; }

    /// <summary>When the backup was last verified (authenticated, decompressed, hash checked) and whether that passed.</summary>
    public DateTimeOffset? VerifiedAt { get; init; }
    public bool? Verified { get; init; }
}

internal sealed record CompressionInfo(string Algorithm, int Level);

/// <summary>
/// How the object is encrypted: the ESDK message format and suite, frame length, the encryption context and which
/// keys wrap the data key (the EDK references). <see cref="KeyServiceUnavailable"/>: the key service could not be
/// reached when the backup ran.
/// <see cref="RecoveryKeyOnly"/>: only the offline recovery key wraps the data key (key service down, or the key
/// service's own store), so only an operator with that key can open the backup.
/// </summary>
internal sealed record EncryptionInfo(
    string Format, string Suite, int FrameLength, IReadOnlyDictionary<string, string> Context, IReadOnlyList<KeyReference> Keys, bool KeyServiceUnavailable,
    bool RecoveryKeyOnly);

internal sealed record KeyReference(string Provider, string Key);

/// <summary>A backup attempt that did not complete, in <c>attempts/{source}/{id}.json</c>.</summary>
internal sealed record FailedAttempt(Guid Id, string Source, DateTimeOffset StartedAt, DateTimeOffset FailedAt, string Reason);

/// <summary>
/// A backup in progress, in <c>running/{id}.json</c> from before the upload starts until its manifest is written: what
/// the start-up sweep needs to abort and remove a backup a crash left behind.
/// </summary>
internal sealed record RunningMarker(Guid Id, string Source, string ObjectKey, string UploadId, DateTimeOffset StartedAt);

/// <summary>
/// Authenticated JSON records: <c>{"kind":…,"record":"&lt;json&gt;","mac":"&lt;hex&gt;"}</c>, the MAC over the exact record
/// bytes (no canonicalisation needed), keyed by <see cref="BackupKeys"/>.
/// </summary>
internal static class SignedRecord
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    public static byte[] Encode<T>(BackupKeys keys, string kind, T record)
    {
        var body = JsonSerializer.Serialize(record, Json);
        var mac = keys.Mac(kind, System.Text.Encoding.UTF8.GetBytes(body));
        return JsonSerializer.SerializeToUtf8Bytes(new Envelope(kind, body, Convert.ToHexStringLower(mac)), Json);
    }

    /// <summary>The record, or an exception when the envelope is malformed, of another kind, or its MAC does not match.</summary>
    public static T Decode<T>(BackupKeys keys, string kind, ReadOnlySpan<byte> stored)
    {
        Envelope? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize<Envelope>(stored, Json);
        }
        catch (JsonException)
        {
            throw new InvalidRecordException($"A stored {kind} record does not parse.");
        }
        if (envelope is null || envelope.Kind != kind || envelope.Record is null || envelope.Mac is null)
        {
            throw new InvalidRecordException($"A stored {kind} record is incomplete.");
        }
        byte[] mac;
        try
        {
            mac = Convert.FromHexString(envelope.Mac);
        }
        catch (FormatException)
        {
            throw new InvalidRecordException($"A stored {kind} record has a malformed MAC.");
        }
        if (!keys.Verify(kind, System.Text.Encoding.UTF8.GetBytes(envelope.Record), mac))
        {
            throw new InvalidRecordException($"A stored {kind} record failed authentication.");
        }
        return JsonSerializer.Deserialize<T>(envelope.Record, Json) ?? throw new InvalidRecordException($"A stored {kind} record is empty.");
    }

    private sealed record Envelope(string Kind, string Record, string Mac);
}

/// <summary>A stored manifest, attempt, ledger or audit record that is malformed or fails authentication.</summary>
internal sealed class InvalidRecordException(string message) : Exception(message);
