using System.Collections.Immutable;
using System.Security.Cryptography;

namespace Pii.Kms.Transit;

/// <summary>One version of a named key: the AES-256 key and the independent HMAC key Vault gives every version.</summary>
public sealed record KeyVersion(int Version, byte[] Key, byte[] HmacKey, long CreatedUnixSeconds, int ConvergentVersion);

/// <summary>
/// An immutable snapshot of a named transit key (Vault's "policy"). Every change produces a new snapshot that the
/// <see cref="KeyRing"/> swaps in atomically, so encryptions running during a rotation see one consistent state.
/// <see cref="Versions"/> holds every version not trimmed (Vault's live map plus its archive).
/// </summary>
public sealed record TransitPolicy
{
    public const string Aes256Gcm96 = "aes256-gcm96";
    public const string HkdfSha256 = "hkdf_sha256";

    /// <summary>Vault's current convergent scheme: nonce from an HKDF-derived HMAC key (see <see cref="TransitCrypto"/>).</summary>
    public const int CurrentConvergentVersion = 3;

    public required string Name { get; init; }
    public string Type { get; init; } = Aes256Gcm96;
    public bool Derived { get; init; }
    public string? Kdf { get; init; }
    public bool ConvergentEncryption { get; init; }
    public int ConvergentVersionOfPolicy { get; init; }
    public bool DeletionAllowed { get; init; }
    public bool Exportable { get; init; }
    public bool AllowPlaintextBackup { get; init; }
    public int LatestVersion { get; init; }
    public int MinDecryptionVersion { get; init; }
    public int MinEncryptionVersion { get; init; }
    public int MinAvailableVersion { get; init; }
    public long AutoRotatePeriodSeconds { get; init; }
    public ImmutableSortedDictionary<int, KeyVersion> Versions { get; init; } = ImmutableSortedDictionary<int, KeyVersion>.Empty;

    /// <summary>Creates a key with its first version, as Vault's lock manager does on create or upsert.</summary>
    public static TransitPolicy Create(string name, bool derived, bool convergent, long autoRotatePeriodSeconds, DateTimeOffset now)
    {
        var policy = new TransitPolicy
        {
            Name = name,
            Derived = derived,
            Kdf = derived ? HkdfSha256 : null,
            ConvergentEncryption = convergent,
            ConvergentVersionOfPolicy = convergent ? -1 : 0,
            AutoRotatePeriodSeconds = autoRotatePeriodSeconds,
        };
        return policy.Rotate(now);
    }

    /// <summary>Adds version N+1 with fresh random key material.</summary>
    public TransitPolicy Rotate(DateTimeOffset now)
    {
        var version = LatestVersion + 1;
        var entry = new KeyVersion(
            version,
            RandomNumberGenerator.GetBytes(32),
            RandomNumberGenerator.GetBytes(32),
            now.ToUnixTimeSeconds(),
            ConvergentEncryption ? CurrentConvergentVersion : 0);
        return this with
        {
            LatestVersion = version,
            MinDecryptionVersion = MinDecryptionVersion == 0 ? 1 : MinDecryptionVersion,
            Versions = Versions.Add(version, entry),
        };
    }

    /// <summary>Deletes versions below <paramref name="minAvailableVersion"/> for good.</summary>
    public TransitPolicy Trim(int minAvailableVersion)
    {
        var kept = Versions.Where(v => v.Key >= minAvailableVersion).ToImmutableSortedDictionary();
        return this with { MinAvailableVersion = minAvailableVersion, Versions = kept };
    }

    public KeyVersion Latest => Versions[LatestVersion];

    public bool IsDueForRotation(DateTimeOffset now) =>
        AutoRotatePeriodSeconds > 0 && now.ToUnixTimeSeconds() - Latest.CreatedUnixSeconds >= AutoRotatePeriodSeconds;

    /// <summary>The convergent scheme of one version (0 = not convergent), per Vault's <c>convergentVersion</c>.</summary>
    public int ConvergentVersionOf(int version)
    {
        if (!ConvergentEncryption)
        {
            return 0;
        }

        var fromEntry = Versions.TryGetValue(version, out var entry) ? entry.ConvergentVersion : 0;
        if (fromEntry != 0)
        {
            return fromEntry;
        }

        return ConvergentVersionOfPolicy == 0 ? 1 : ConvergentVersionOfPolicy;
    }
}
