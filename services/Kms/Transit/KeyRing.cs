using System.Collections.Concurrent;
using Pii.Kms.Http;
using Pii.Kms.Storage;

namespace Pii.Kms.Transit;

/// <summary>Settings a key may be created with (Vault's create-key and encrypt-upsert fields).</summary>
public sealed record KeyCreation(string Type = TransitPolicy.Aes256Gcm96, bool Derived = false, bool Convergent = false, long AutoRotatePeriodSeconds = 0,
    bool Exportable = false, bool AllowPlaintextBackup = false);

/// <summary>Changes requested through <c>keys/:name/config</c>; null = leave unchanged.</summary>
public sealed record KeyConfigChange(int? MinDecryptionVersion, int? MinEncryptionVersion, bool? DeletionAllowed, bool? Exportable, bool? AllowPlaintextBackup, long? AutoRotatePeriodSeconds);

/// <summary>
/// All named transit keys. Reads are lock-free on immutable snapshots; every change runs under one writer lock,
/// is persisted in one transaction, and only then is the new snapshot swapped in, so an encryption never sees a
/// half-applied rotation and a crash never loses a version that was handed out.
/// </summary>
public sealed class KeyRing(KmsStore store, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, TransitPolicy> _keys = new(StringComparer.Ordinal);
    private readonly Lock _writeLock = new();

    private const string DisableUpsertSetting = "transit/config/keys/disable_upsert";

    public void Load()
    {
        foreach (var policy in store.LoadKeys())
        {
            _keys[policy.Name] = policy;
        }

        DisableUpsert = store.GetSetting(DisableUpsertSetting) == "true";
    }

    /// <summary>Vault's <c>transit/config/keys</c> switch: when set, encrypt never creates a missing key.</summary>
    public bool DisableUpsert { get; private set; }

    public void SetDisableUpsert(bool disabled)
    {
        lock (_writeLock)
        {
            store.SaveSetting(DisableUpsertSetting, disabled ? "true" : "false");
            DisableUpsert = disabled;
        }
    }

    public TransitPolicy? Find(string name) => _keys.GetValueOrDefault(name);

    public bool Exists(string name) => _keys.ContainsKey(name);

    public IReadOnlyList<string> Names() => [.. _keys.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Creates the key unless it exists; returns the key and whether it already existed (Vault warns then).</summary>
    public (TransitPolicy Policy, bool Existed) GetOrCreate(string name, KeyCreation creation)
    {
        ValidateCreation(creation);
        lock (_writeLock)
        {
            if (_keys.TryGetValue(name, out var existing))
            {
                return (existing, true);
            }

            var policy = TransitPolicy.Create(name, creation.Derived, creation.Convergent, creation.AutoRotatePeriodSeconds, time.GetUtcNow())
                with { Exportable = creation.Exportable, AllowPlaintextBackup = creation.AllowPlaintextBackup };
            store.SaveKey(policy);
            _keys[name] = policy;
            return (policy, false);
        }
    }

    public TransitPolicy Rotate(string name) => Update(name, "key not found", p => p.Rotate(time.GetUtcNow()));

    public TransitPolicy Configure(string name, KeyConfigChange change, List<string> warnings) =>
        Update(name, $"no existing key named {name} could be found", p => ApplyConfig(p, change, warnings));

    public TransitPolicy Trim(string name, int minAvailableVersion) => Update(name, "invalid key name or key not found", p =>
    {
        if (minAvailableVersion <= 0)
        {
            throw VaultException.BadRequest("minimum available version should be positive");
        }

        if (minAvailableVersion < p.MinAvailableVersion)
        {
            throw VaultException.BadRequest("minimum available version cannot be decremented");
        }

        if (p.MinEncryptionVersion == 0)
        {
            throw VaultException.BadRequest("minimum encryption version should not be zero");
        }

        if (minAvailableVersion > p.MinEncryptionVersion)
        {
            throw VaultException.BadRequest("minimum available version cannot be greater than minmimum encryption version");
        }

        if (minAvailableVersion > p.MinDecryptionVersion)
        {
            throw VaultException.BadRequest("minimum available version cannot be greater than minimum decryption version");
        }

        return p.Trim(minAvailableVersion);
    });

    public void Delete(string name)
    {
        lock (_writeLock)
        {
            if (!_keys.TryGetValue(name, out var policy))
            {
                throw VaultException.BadRequest($"error deleting policy {name}: could not delete key; not found");
            }

            if (!policy.DeletionAllowed)
            {
                throw VaultException.BadRequest($"error deleting policy {name}: deletion is not allowed for this key");
            }

            store.DeleteKey(name);
            _keys.TryRemove(name, out _);
        }
    }

    /// <summary>
    /// Vault's <c>transit/backup/:name</c>: the whole key ring (every version not trimmed, with its AES and HMAC keys and
    /// the key's settings) as base64 of a JSON document, see <see cref="KeyBackup"/>. Only for keys that are both
    /// <c>exportable</c> and <c>allow_plaintext_backup</c>, as in Vault.
    /// </summary>
    public string Backup(string name)
    {
        var policy = Find(name) ?? throw VaultException.BadRequest($"key \"{name}\" not found");
        if (!policy.Exportable)
        {
            throw VaultException.BadRequest("exporting is disallowed on the policy");
        }

        if (!policy.AllowPlaintextBackup)
        {
            throw VaultException.BadRequest("plaintext backup is disallowed on the policy");
        }

        return KeyBackup.Write(policy, time.GetUtcNow());
    }

    /// <summary>
    /// Vault's <c>transit/restore[/:name]</c>: brings a backed-up key ring back under its own name or <paramref name="name"/>.
    /// An existing key is replaced only with <paramref name="force"/>; the write is one transaction, as every key change.
    /// </summary>
    public void Restore(string? name, string backup, bool force)
    {
        var restored = KeyBackup.Read(backup);
        var target = string.IsNullOrEmpty(name) ? restored.Name : name;
        if (target.Contains('/', StringComparison.Ordinal))
        {
            throw VaultException.BadRequest("invalid key name");
        }

        ValidateCreation(new KeyCreation(restored.Type, restored.Derived, restored.ConvergentEncryption, restored.AutoRotatePeriodSeconds));
        lock (_writeLock)
        {
            if (_keys.ContainsKey(target) && !force)
            {
                throw VaultException.BadRequest($"key \"{target}\" already exists");
            }

            var policy = restored with { Name = target };
            store.SaveKey(policy);
            _keys[target] = policy;
        }
    }

    /// <summary>Rotates every key whose auto_rotate_period has elapsed since its latest version was made.</summary>
    public IReadOnlyList<string> RotateDueKeys()
    {
        var rotated = new List<string>();
        foreach (var name in Names())
        {
            lock (_writeLock)
            {
                if (_keys.TryGetValue(name, out var p) && p.IsDueForRotation(time.GetUtcNow()))
                {
                    var next = p.Rotate(time.GetUtcNow());
                    store.SaveKey(next);
                    _keys[name] = next;
                    rotated.Add(name);
                }
            }
        }

        return rotated;
    }

    public static void ValidateCreation(KeyCreation creation)
    {
        if (creation.Type != TransitPolicy.Aes256Gcm96)
        {
            throw VaultException.BadRequest($"unknown key type {creation.Type}");
        }

        if (creation.Convergent && !creation.Derived)
        {
            throw VaultException.BadRequest("convergent encryption requires derivation to be enabled");
        }

        ValidateAutoRotatePeriod(creation.AutoRotatePeriodSeconds);
    }

    private static void ValidateAutoRotatePeriod(long seconds)
    {
        if (seconds != 0 && seconds < 3600)
        {
            throw VaultException.BadRequest("auto rotate period must be 0 to disable or at least an hour");
        }
    }

    private TransitPolicy Update(string name, string notFound, Func<TransitPolicy, TransitPolicy> change)
    {
        lock (_writeLock)
        {
            if (!_keys.TryGetValue(name, out var current))
            {
                throw VaultException.BadRequest(notFound);
            }

            var next = change(current);
            store.SaveKey(next);
            _keys[name] = next;
            return next;
        }
    }

    private static TransitPolicy ApplyConfig(TransitPolicy p, KeyConfigChange c, List<string> warnings)
    {
        var minDecryption = p.MinDecryptionVersion;
        var minEncryption = p.MinEncryptionVersion;
        if (c.MinDecryptionVersion is { } d)
        {
            if (d < 0)
            {
                throw VaultException.BadRequest("min decryption version cannot be negative");
            }

            if (d == 0)
            {
                d = 1;
                warnings.Add("since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1");
            }

            minDecryption = d;
        }

        if (c.MinEncryptionVersion is { } e)
        {
            if (e < 0)
            {
                throw VaultException.BadRequest("min encryption version cannot be negative");
            }

            minEncryption = e;
        }

        if (minDecryption > p.LatestVersion)
        {
            throw VaultException.BadRequest("cannot set min decryption version of " + minDecryption + ", latest key version is " + p.LatestVersion);
        }

        if (minEncryption > p.LatestVersion)
        {
            throw VaultException.BadRequest("cannot set min encryption version of " + minEncryption + ", latest key version is " + p.LatestVersion);
        }

        if (minEncryption > 0 && minEncryption < minDecryption)
        {
            throw VaultException.BadRequest("cannot set min encryption/decryption values; min encryption version must be greater than or equal to min decryption version");
        }

        if (minDecryption < p.MinAvailableVersion)
        {
            throw VaultException.BadRequest($"cannot set min decryption version of {minDecryption}, the minimum available version is {p.MinAvailableVersion}");
        }

        if (minEncryption > 0 && minEncryption < p.MinAvailableVersion)
        {
            throw VaultException.BadRequest($"cannot set min encryption version of {minEncryption}, the minimum available version is {p.MinAvailableVersion}");
        }

        if (c.Exportable == false && p.Exportable)
        {
            throw VaultException.BadRequest("exportable key cannot be made non-exportable");
        }

        if (c.AllowPlaintextBackup == false && p.AllowPlaintextBackup)
        {
            throw VaultException.BadRequest("plaintext backups cannot be disabled once enabled");
        }

        if (c.AutoRotatePeriodSeconds is { } period)
        {
            ValidateAutoRotatePeriod(period);
        }

        return p with
        {
            MinDecryptionVersion = minDecryption,
            MinEncryptionVersion = minEncryption,
            DeletionAllowed = c.DeletionAllowed ?? p.DeletionAllowed,
            Exportable = p.Exportable || c.Exportable == true,
            AllowPlaintextBackup = p.AllowPlaintextBackup || c.AllowPlaintextBackup == true,
            AutoRotatePeriodSeconds = c.AutoRotatePeriodSeconds ?? p.AutoRotatePeriodSeconds,
        };
    }
}
