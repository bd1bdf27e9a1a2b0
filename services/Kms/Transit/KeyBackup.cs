using System.Security.Cryptography;
using System.Text.Json;
using Pii.Kms.Http;
using Pii.Kms.Storage;

namespace Pii.Kms.Transit;

/// <summary>
/// The backup blob of <c>transit/backup/:name</c>: standard base64 of the UTF-8 JSON document
/// <code>{"format": "pii-kms-transit-backup/1", "backup_time": "2026-…Z", "policy": { …the key ring as stored… }}</code>
/// where <c>policy</c> is the same record the store seals (name, type, settings, min versions, and per version the
/// AES key, HMAC key, creation time, base64). Like Vault's it is a plaintext backup: anyone holding it holds the key.
/// It is not byte-compatible with Vault's blob; it round-trips through <c>transit/restore</c> of this service.
/// </summary>
public static class KeyBackup
{
    public const string Format = "pii-kms-transit-backup/1";

    public static string Write(TransitPolicy policy, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(policy);
        var record = StoredKey.Serialize(policy);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(record.Length + 256);
        try
        {
            using (var writer = new Utf8JsonWriter(buffer))
            {
                writer.WriteStartObject();
                writer.WriteString("format", Format);
                writer.WriteString("backup_time", now.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
                writer.WritePropertyName("policy");
                writer.WriteRawValue(record, skipInputValidation: true);
                writer.WriteEndObject();
            }

            return Convert.ToBase64String(buffer.WrittenSpan);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(record);
            buffer.Clear();
        }
    }

    /// <summary>The key ring in a backup blob; anything that is not one of ours, or is damaged, is a 400.</summary>
    public static TransitPolicy Read(string backup)
    {
        ArgumentNullException.ThrowIfNull(backup);
        byte[] json;
        try
        {
            json = Convert.FromBase64String(backup);
        }
        catch (FormatException)
        {
            throw VaultException.BadRequest("failed to decode the backup: not base64");
        }

        byte[]? record = null;
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String
                || format.GetString() != Format || !root.TryGetProperty("policy", out var policy) || policy.ValueKind != JsonValueKind.Object)
            {
                throw VaultException.BadRequest("failed to restore the backup: not a " + Format + " document");
            }

            if (!policy.TryGetProperty("Name", out var keyName) || keyName.ValueKind != JsonValueKind.String
                || !policy.TryGetProperty("Type", out var type) || type.ValueKind != JsonValueKind.String
                || !policy.TryGetProperty("Versions", out var versions) || versions.ValueKind != JsonValueKind.Array)
            {
                throw VaultException.BadRequest("failed to restore the backup: the key ring is incomplete");
            }

            record = JsonSerializer.SerializeToUtf8Bytes(policy);
            var restored = StoredKey.Deserialize(record);
            if (string.IsNullOrEmpty(restored.Name) || restored.Versions.IsEmpty || !restored.Versions.ContainsKey(restored.LatestVersion)
                || restored.Versions.Values.Any(v => v.Key is not { Length: 32 } || v.HmacKey is not { Length: 32 }))
            {
                throw VaultException.BadRequest("failed to restore the backup: the key ring is incomplete");
            }

            return restored;
        }
        catch (JsonException)
        {
            throw VaultException.BadRequest("failed to restore the backup: invalid JSON");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(json);
            if (record is not null)
            {
                CryptographicOperations.ZeroMemory(record);
            }
        }
    }
}
