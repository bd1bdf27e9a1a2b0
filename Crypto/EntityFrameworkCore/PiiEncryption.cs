using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Metadata;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;
using Pii.Crypto.Tiers;
using Pii.EntityFrameworkCore.Internal;
using Pii.EntityFrameworkCore.Keys;

namespace Pii.EntityFrameworkCore;

/// <summary>
/// The keys and machinery behind encrypted EF Core properties: DEKs per purpose from a <see cref="DekManager"/> over the
/// <c>pii_data_keys</c> table, wrapped by the configured KEK; the blind-index root key (made on first use, stored wrapped
/// in <c>pii_service_keys</c>); the tier-3 application key. Create one per application (a singleton) and pass it to
/// <see cref="PiiDbContextOptionsExtensions.UsePiiEncryption"/> for every context that uses it.
/// </summary>
public sealed class PiiEncryption : IDisposable
{
    private const string IndexRootKeyName = "blind-index-root";
    private readonly IKeyEncryptionKey _kek;
    private readonly SemaphoreSlim _indexGate = new(1, 1);
    private readonly ConcurrentDictionary<(string Table, string Column, BlindIndexKind Kind), BlindIndex> _indexes = new();
    private readonly ConditionalWeakTable<IModel, PiiModelMap> _maps = [];
    private byte[]? _indexRoot;

    public PiiEncryption(PiiEncryptionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.KeyEncryptionKey);
        ArgumentNullException.ThrowIfNull(options.KeyStore);
        var storeOptions = new DbContextOptionsBuilder<PiiKeyDbContext>();
        options.KeyStore(storeOptions);
        _kek = options.KeyEncryptionKey;
        Store = new EfDekStore(storeOptions.Options);
        Deks = new DekManager(_kek, Store, options.DekPolicy, options.TimeProvider);
        if (options.ApplicationKey is { } applicationKey)
        {
            ApplicationKey = FieldKey.FromDek(0, applicationKey.Span);
        }
        Interceptors = [new PiiSaveChangesInterceptor(this), new PiiMaterializationInterceptor(this), new PiiQueryInterceptor(this)];
    }

    internal DekManager Deks { get; }

    internal EfDekStore Store { get; }

    internal FieldKey? ApplicationKey { get; }

    internal IInterceptor[] Interceptors { get; }

    /// <summary>What was last read or written for each tracked or materialized entity: plaintexts and DEK ids.</summary>
    internal ConditionalWeakTable<object, EntitySnapshot> Snapshots { get; } = [];

    /// <summary>
    /// Loads (or makes, on first use) the blind-index root key. Call it at start-up: otherwise the first query or save
    /// that needs an index loads it synchronously.
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _indexRoot) is not null)
        {
            return;
        }
        await _indexGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_indexRoot is null)
            {
                byte[] root = await LoadOrCreateIndexRootAsync(cancellationToken).ConfigureAwait(false);
                byte[] pinned = GC.AllocateArray<byte>(root.Length, pinned: true);
                root.CopyTo(pinned, 0);
                CryptographicOperations.ZeroMemory(root);
                Volatile.Write(ref _indexRoot, pinned);
            }
        }
        finally
        {
            _indexGate.Release();
        }
    }

    /// <summary>
    /// Retires the active DEK of <paramref name="purpose"/> and makes a new one; returns its id. Rows under the retired
    /// DEK still decrypt; <see cref="Rotation.PiiKeyRotator"/> moves them to the new one.
    /// </summary>
    public async Task<int> RotateDataKeyAsync(string purpose, CancellationToken cancellationToken = default) =>
        (await Deks.RotateAsync(purpose, cancellationToken).ConfigureAwait(false)).Id;

    /// <summary>After a KEK rotation: re-wraps every stored DEK under the KEK's current version (data rows are untouched).</summary>
    public Task<int> RewrapDataKeysAsync(CancellationToken cancellationToken = default) => Deks.RewrapAllAsync(cancellationToken);

    /// <summary>The ids of retired DEKs (they decrypt but no longer encrypt).</summary>
    public async Task<IReadOnlySet<int>> GetRetiredDataKeyIdsAsync(CancellationToken cancellationToken = default) =>
        (await Store.ListAsync(cancellationToken).ConfigureAwait(false)).Where(r => !r.IsActive).Select(r => r.Id).ToHashSet();

    public void Dispose()
    {
        Deks.Dispose();
        ApplicationKey?.Dispose();
        foreach (BlindIndex index in _indexes.Values)
        {
            index.Dispose();
        }
        if (_indexRoot is not null)
        {
            CryptographicOperations.ZeroMemory(_indexRoot);
        }
        _indexGate.Dispose();
    }

    internal PiiModelMap MapFor(IModel model) => _maps.GetValue(model, PiiModelMap.Build);

    internal BlindIndex BlindIndexFor(string table, string column, BlindIndexKind kind)
    {
        if (_indexes.TryGetValue((table, column, kind), out BlindIndex? index))
        {
            return index;
        }
        if (Volatile.Read(ref _indexRoot) is null)
        {
            // A value converter cannot await: only reached when InitializeAsync was not called at start-up.
            InitializeAsync().GetAwaiter().GetResult();
        }
        return _indexes.GetOrAdd((table, column, kind), key => new BlindIndex(_indexRoot, key.Table, key.Column, key.Kind));
    }

    internal byte[] Encrypt(FieldKey dek, FieldPlan field, object value, FieldContext context)
    {
        byte[] plaintext = ValueCodec.Encode(value);
        bool ownsPlaintext = !ReferenceEquals(plaintext, value);
        try
        {
            if (field.Tier == Tier.Three)
            {
                byte[] inner = FieldCipher.Encrypt(RequireApplicationKey(), field.Mode, plaintext, context)!;
                if (ownsPlaintext)
                {
                    CryptographicOperations.ZeroMemory(plaintext);
                }
                plaintext = inner;
                ownsPlaintext = true;
            }
            return FieldCipher.Encrypt(dek, field.Mode, plaintext, context)!;
        }
        finally
        {
            if (ownsPlaintext)
            {
                CryptographicOperations.ZeroMemory(plaintext);
            }
        }
    }

    internal object Decrypt(FieldPlan field, byte[] ciphertext, FieldContext context, out int dekId)
    {
        dekId = FieldCipher.ReadHeader(ciphertext).DekId;
        byte[] plaintext;
        using (FieldKeyLease lease = LeaseSynchronously(dekId))
        {
            plaintext = FieldCipher.Decrypt(lease.Key, ciphertext, context)!;
        }
        if (field.Tier == Tier.Three)
        {
            byte[] outer = plaintext;
            plaintext = FieldCipher.Decrypt(RequireApplicationKey(), outer, context)!;
            CryptographicOperations.ZeroMemory(outer);
        }
        object value = ValueCodec.Decode(plaintext, field.ClrType);
        if (!ReferenceEquals(value, plaintext))
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
        return value;
    }

    private FieldKeyLease LeaseSynchronously(int dekId)
    {
        // Materialization is synchronous in EF Core; a cached DEK completes at once, a cold one is unwrapped by the KEK here.
        ValueTask<FieldKeyLease> lease = Deks.LeaseKeyAsync(dekId);
        return lease.IsCompletedSuccessfully ? lease.Result : lease.AsTask().GetAwaiter().GetResult();
    }

    private FieldKey RequireApplicationKey() =>
        ApplicationKey ?? throw new InvalidOperationException("A tier-3 property needs the application key (PiiEncryptionOptions.ApplicationKey).");

    private async Task<byte[]> LoadOrCreateIndexRootAsync(CancellationToken cancellationToken)
    {
        await using var context = Store.CreateContext();
        var stored = await context.ServiceKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Name == IndexRootKeyName, cancellationToken).ConfigureAwait(false);
        if (stored is null)
        {
            GeneratedDek generated = await _kek.GenerateDataKeyAsync(cancellationToken).ConfigureAwait(false);
            CryptographicOperations.ZeroMemory(generated.Plaintext);
            context.ServiceKeys.Add(new PiiServiceKey
            {
                Name = IndexRootKeyName,
                KekName = generated.Wrapped.KekName,
                KekVersion = generated.Wrapped.KekVersion,
                Ciphertext = generated.Wrapped.Ciphertext,
            });
            try
            {
                await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DbUpdateException)
            {
                // Another instance stored its root key first; whichever row is stored is the key.
                context.ChangeTracker.Clear();
            }
            stored = await context.ServiceKeys.AsNoTracking().SingleAsync(k => k.Name == IndexRootKeyName, cancellationToken).ConfigureAwait(false);
        }
        return await _kek.UnwrapAsync(new WrappedDek(stored.KekName, stored.KekVersion, stored.Ciphertext), cancellationToken).ConfigureAwait(false);
    }
}
