using System.Security.Cryptography;
using Pii.Crypto.Fields;

namespace Pii.Crypto.Keys;

/// <summary>
/// Owns a service's DEKs: one active DEK per purpose, generated and wrapped by the KEK, persisted wrapped in an
/// <see cref="IDekStore"/>, replaced by policy (age, use count), unwrapped on demand into a bounded TTL cache whose
/// evictions zero the key material. Retired DEKs keep decrypting. KEK rotation re-wraps stored DEKs, never data.
/// </summary>
public sealed class DekManager : IDisposable
{
    private readonly IKeyEncryptionKey _kek;
    private readonly IDekStore _store;
    private readonly DekPolicy _policy;
    private readonly TimeProvider _time;
    private readonly DekCache _cache;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ActiveDek> _active = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _rotation = new(1, 1);

    public DekManager(IKeyEncryptionKey kek, IDekStore store, DekPolicy? policy = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(kek);
        ArgumentNullException.ThrowIfNull(store);
        _kek = kek;
        _store = store;
        _policy = policy ?? new DekPolicy();
        _time = time ?? TimeProvider.System;
        if (_policy.UseReservation < 1 || _policy.UseReservation > _policy.MaxUses)
        {
            throw new ArgumentException("UseReservation must be between 1 and MaxUses.", nameof(policy));
        }
        _cache = new DekCache(_policy.CacheCapacity, _policy.CacheTimeToLive, _time);
    }

    /// <summary>Number of unwrapped DEKs currently cached.</summary>
    public int CachedKeyCount => _cache.Count;

    /// <summary>Encrypts a nullable value under the active DEK for <paramref name="purpose"/> (null stays null).</summary>
    public async Task<byte[]?> EncryptAsync(string purpose, FieldMode mode, byte[]? plaintext, FieldContext context, CancellationToken cancellationToken = default)
    {
        if (plaintext is null)
        {
            return null;
        }
        using FieldKeyLease lease = await LeaseEncryptionKeyAsync(purpose, 1, cancellationToken).ConfigureAwait(false);
        return FieldCipher.Encrypt(lease.Key, mode, plaintext, context);
    }

    /// <summary>Encrypts a nullable string under the active DEK for <paramref name="purpose"/> (null stays null).</summary>
    public async Task<byte[]?> EncryptStringAsync(string purpose, FieldMode mode, string? plaintext, FieldContext context, CancellationToken cancellationToken = default)
    {
        if (plaintext is null)
        {
            return null;
        }
        using FieldKeyLease lease = await LeaseEncryptionKeyAsync(purpose, 1, cancellationToken).ConfigureAwait(false);
        return FieldCipher.EncryptString(lease.Key, mode, plaintext, context);
    }

    /// <summary>Decrypts a nullable field ciphertext with the DEK its header names (null stays null).</summary>
    public async Task<byte[]?> DecryptAsync(byte[]? ciphertext, FieldContext context, CancellationToken cancellationToken = default)
    {
        if (ciphertext is null)
        {
            return null;
        }
        using FieldKeyLease lease = await LeaseKeyAsync(FieldCipher.ReadHeader(ciphertext).DekId, cancellationToken).ConfigureAwait(false);
        return FieldCipher.Decrypt(lease.Key, ciphertext, context);
    }

    /// <summary>Decrypts a nullable UTF-8 field (null stays null).</summary>
    public async Task<string?> DecryptStringAsync(byte[]? ciphertext, FieldContext context, CancellationToken cancellationToken = default)
    {
        if (ciphertext is null)
        {
            return null;
        }
        using FieldKeyLease lease = await LeaseKeyAsync(FieldCipher.ReadHeader(ciphertext).DekId, cancellationToken).ConfigureAwait(false);
        return FieldCipher.DecryptString(lease.Key, ciphertext, context);
    }

    /// <summary>
    /// Leases the active DEK for <paramref name="purpose"/> for <paramref name="uses"/> encryptions (a batch), counting
    /// them against the use limit; creates or replaces the DEK when none is active or the policy says so.
    /// </summary>
    public async ValueTask<FieldKeyLease> LeaseEncryptionKeyAsync(string purpose, int uses = 1, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(purpose);
        ArgumentOutOfRangeException.ThrowIfLessThan(uses, 1);
        if (uses > _policy.MaxUses)
        {
            throw new ArgumentOutOfRangeException(nameof(uses), "A batch cannot exceed the DEK use limit.");
        }
        DekRecord? record = TakeUses(purpose, uses);
        if (record is null)
        {
            await _rotation.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                record = TakeUses(purpose, uses) ?? await ReserveAsync(purpose, uses, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _rotation.Release();
            }
        }
        return await LeaseKeyAsync(record, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Leases the DEK with <paramref name="dekId"/> (active or retired) for decryption.</summary>
    public async ValueTask<FieldKeyLease> LeaseKeyAsync(int dekId, CancellationToken cancellationToken = default)
    {
        if (_cache.TryAcquire(dekId, out FieldKey? cached))
        {
            return new FieldKeyLease(cached!);
        }
        DekRecord record = await _store.GetAsync(dekId, cancellationToken).ConfigureAwait(false)
            ?? throw new UnknownKeyException("No stored DEK has the id this ciphertext names.");
        return await LeaseKeyAsync(record, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Retires the active DEK for <paramref name="purpose"/> (if any) and makes a new one.</summary>
    public async Task<DekRecord> RotateAsync(string purpose, CancellationToken cancellationToken = default) =>
        (await RotateWhenAsync(purpose, _ => true, cancellationToken).ConfigureAwait(false))!;

    /// <summary>
    /// The age policy run on a schedule: retires the active DEK for <paramref name="purpose"/> and makes a new one only
    /// if the stored active DEK was created at or before <paramref name="createdBefore"/>. The store is read under the
    /// rotation lock, so a DEK another instance has just replaced is left alone. Returns the new DEK, or null.
    /// </summary>
    public Task<DekRecord?> RotateIfCreatedBeforeAsync(string purpose, DateTimeOffset createdBefore, CancellationToken cancellationToken = default) =>
        RotateWhenAsync(purpose, active => active is not null && active.CreatedAt <= createdBefore, cancellationToken);

    /// <summary>
    /// KEK rotation: re-wraps every stored DEK under the KEK's current version. Ciphertexts are untouched (the DEKs
    /// do not change). Returns how many records changed.
    /// </summary>
    public async Task<int> RewrapAllAsync(CancellationToken cancellationToken = default)
    {
        int changed = 0;
        foreach (DekRecord record in await _store.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            WrappedDek rewrapped = await _kek.RewrapAsync(record.Wrapped, cancellationToken).ConfigureAwait(false);
            if (rewrapped != record.Wrapped)
            {
                await _store.UpdateWrappedAsync(record.Id, rewrapped, cancellationToken).ConfigureAwait(false);
                changed++;
            }
        }
        return changed;
    }

    /// <summary>Drops a destroyed DEK from the cache, so that no copy of it outlives its destruction in this process.</summary>
    public void Forget(int dekId) => _cache.Remove(dekId);

    /// <summary>Zeroes cached DEKs whose TTL has passed (lookups do this lazily too).</summary>
    public void EvictExpiredKeys() => _cache.EvictExpired();

    public void Dispose()
    {
        _cache.Dispose();
        _rotation.Dispose();
    }

    private async Task<DekRecord?> RotateWhenAsync(string purpose, Func<DekRecord?, bool> due, CancellationToken cancellationToken)
    {
        await _rotation.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            DekRecord? active = await _store.GetActiveAsync(purpose, cancellationToken).ConfigureAwait(false);
            if (!due(active))
            {
                return null;
            }
            // The new DEK first: when the KEK's keeper is down, the active DEK stays in place rather than none.
            GeneratedDek generated = await _kek.GenerateDataKeyAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (active is not null)
                {
                    await _store.RetireAsync(active.Id, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                }
                lock (_gate)
                {
                    _active.Remove(purpose);
                }
                return await StoreAsync(purpose, generated, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(generated.Plaintext);
            }
        }
        finally
        {
            _rotation.Release();
        }
    }

    // Fast path: spend uses already reserved in the store for a DEK that is still young enough.
    private DekRecord? TakeUses(string purpose, int uses)
    {
        lock (_gate)
        {
            if (_active.TryGetValue(purpose, out ActiveDek? active) && active.ReservedUses >= uses && !IsTooOld(active.Record))
            {
                active.ReservedUses -= uses;
                return active.Record;
            }
            return null;
        }
    }

    // Slow path (under _rotation): find or create the active DEK, reserve uses in the store, replace it if it is spent.
    private async Task<DekRecord> ReserveAsync(string purpose, int uses, CancellationToken cancellationToken)
    {
        DekRecord? record = await _store.GetActiveAsync(purpose, cancellationToken).ConfigureAwait(false);
        for (int attempt = 0; attempt < 3; attempt++)
        {
            if (record is null || IsTooOld(record))
            {
                if (record is not null)
                {
                    await _store.RetireAsync(record.Id, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                }
                record = await CreateAsync(purpose, cancellationToken).ConfigureAwait(false);
            }
            long reservation = Math.Max(uses, _policy.UseReservation);
            long total = await _store.AddUsesAsync(record.Id, reservation, cancellationToken).ConfigureAwait(false);
            long granted = Math.Min(reservation, _policy.MaxUses - (total - reservation));
            if (granted >= uses)
            {
                lock (_gate)
                {
                    _active[purpose] = new ActiveDek(record) { ReservedUses = granted - uses };
                }
                return record;
            }
            await _store.RetireAsync(record.Id, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            record = null;
        }
        throw new InvalidOperationException("Could not reserve uses of a fresh DEK; check the DEK policy and store.");
    }

    private async Task<DekRecord> CreateAsync(string purpose, CancellationToken cancellationToken)
    {
        GeneratedDek generated = await _kek.GenerateDataKeyAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await StoreAsync(purpose, generated, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(generated.Plaintext);
        }
    }

    // Stores the generated DEK unless another instance stored one first; caches it only if it is the one stored.
    private async Task<DekRecord> StoreAsync(string purpose, GeneratedDek generated, CancellationToken cancellationToken)
    {
        DekRecord record = await _store.InsertIfNoActiveAsync(purpose, generated.Wrapped, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (record.Wrapped == generated.Wrapped)
        {
            _cache.AddAndAcquire(FieldKey.FromDek(record.Id, generated.Plaintext)).Release();
        }
        return record;
    }

    private async ValueTask<FieldKeyLease> LeaseKeyAsync(DekRecord record, CancellationToken cancellationToken)
    {
        if (_cache.TryAcquire(record.Id, out FieldKey? cached))
        {
            return new FieldKeyLease(cached!);
        }
        byte[] dek = await _kek.UnwrapAsync(record.Wrapped, cancellationToken).ConfigureAwait(false);
        try
        {
            return new FieldKeyLease(_cache.AddAndAcquire(FieldKey.FromDek(record.Id, dek)));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dek);
        }
    }

    private bool IsTooOld(DekRecord record) => _time.GetUtcNow() - record.CreatedAt >= _policy.MaxAge;

    private sealed class ActiveDek(DekRecord record)
    {
        public DekRecord Record { get; } = record;

        public long ReservedUses { get; set; }
    }
}
