using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using Pii.Kms.Auth;
using Pii.Kms.Transit;

namespace Pii.Kms.Storage;

/// <summary>The JSON shape of a key ring inside its sealed row (key bytes as base64).</summary>
internal sealed record StoredKey(
    string Name, string Type, bool Derived, string? Kdf, bool ConvergentEncryption, int ConvergentVersion,
    bool DeletionAllowed, bool Exportable, bool AllowPlaintextBackup, int LatestVersion, int MinDecryptionVersion,
    int MinEncryptionVersion, int MinAvailableVersion, long AutoRotatePeriodSeconds, List<StoredKeyVersion> Versions)
{
    public static byte[] Serialize(TransitPolicy p) => JsonSerializer.SerializeToUtf8Bytes(
        new StoredKey(p.Name, p.Type, p.Derived, p.Kdf, p.ConvergentEncryption, p.ConvergentVersionOfPolicy, p.DeletionAllowed,
            p.Exportable, p.AllowPlaintextBackup, p.LatestVersion, p.MinDecryptionVersion, p.MinEncryptionVersion,
            p.MinAvailableVersion, p.AutoRotatePeriodSeconds,
            [.. p.Versions.Values.Select(v => new StoredKeyVersion(v.Version, v.Key, v.HmacKey, v.CreatedUnixSeconds, v.ConvergentVersion))]),
        StoreJsonContext.Default.StoredKey);

    public static TransitPolicy Deserialize(byte[] json)
    {
        var s = JsonSerializer.Deserialize(json, StoreJsonContext.Default.StoredKey) ?? throw new JsonException("empty key record");
        return new TransitPolicy
        {
            Name = s.Name,
            Type = s.Type,
            Derived = s.Derived,
            Kdf = s.Kdf,
            ConvergentEncryption = s.ConvergentEncryption,
            ConvergentVersionOfPolicy = s.ConvergentVersion,
            DeletionAllowed = s.DeletionAllowed,
            Exportable = s.Exportable,
            AllowPlaintextBackup = s.AllowPlaintextBackup,
            LatestVersion = s.LatestVersion,
            MinDecryptionVersion = s.MinDecryptionVersion,
            MinEncryptionVersion = s.MinEncryptionVersion,
            MinAvailableVersion = s.MinAvailableVersion,
            AutoRotatePeriodSeconds = s.AutoRotatePeriodSeconds,
            Versions = s.Versions.ToImmutableSortedDictionary(v => v.Version, v => new KeyVersion(v.Version, v.Key, v.HmacKey, v.CreatedUnixSeconds, v.ConvergentVersion)),
        };
    }
}

internal sealed record StoredKeyVersion(int Version, byte[] Key, byte[] HmacKey, long CreatedUnixSeconds, int ConvergentVersion);

[JsonSerializable(typeof(StoredKey))]
[JsonSerializable(typeof(TokenEntry))]
internal sealed partial class StoreJsonContext : JsonSerializerContext;
