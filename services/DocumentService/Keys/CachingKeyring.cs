using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Pii.Crypto.Streams.Keyrings;

namespace Pii.DocumentService.Keys;

/// <summary>
/// Remembers unwrapped (and freshly generated) document data keys for a bounded time, so repeated range reads do not
/// call the key service each time and downloads of recently used documents keep working while it is down. Entries are
/// keyed by a SHA-256 of the EDK list and the encryption context, hold a copy of the key, and are zeroed on eviction.
/// The header tag is still verified on every open, so a cached key never vouches for an altered header.
/// </summary>
internal sealed class CachingKeyring(IKeyring inner, TimeSpan timeToLive, int capacity, TimeProvider time) : IKeyring, IDisposable
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public int Count => _entries.Count;

    public async Task<GeneratedDataKey> GenerateDataKeyAsync(IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        var generated = await inner.GenerateDataKeyAsync(encryptionContext, cancellationToken);
        Remember(CacheKey(generated.EncryptedDataKeys, encryptionContext), generated.PlaintextKey.Span);
        return generated;
    }

    public Task<IReadOnlyList<EncryptedDataKey>> WrapDataKeyAsync(
        ReadOnlyMemory<byte> dataKey, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken) =>
        inner.WrapDataKeyAsync(dataKey, encryptionContext, cancellationToken);

    public async Task<byte[]?> UnwrapDataKeyAsync(
        IReadOnlyList<EncryptedDataKey> encryptedDataKeys, IReadOnlyDictionary<string, string> encryptionContext, CancellationToken cancellationToken)
    {
        var key = CacheKey(encryptedDataKeys, encryptionContext);
        if (_entries.TryGetValue(key, out var entry))
        {
            if (time.GetUtcNow() < entry.Expires)
            {
                return entry.Copy();
            }
            if (_entries.TryRemove(key, out var expired)) expired.Clear();
        }
        var dataKey = await inner.UnwrapDataKeyAsync(encryptedDataKeys, encryptionContext, cancellationToken);
        if (dataKey is not null) Remember(key, dataKey);
        return dataKey;
    }

    public void Dispose()
    {
        foreach (var key in _entries.Keys)
        {
            if (_entries.TryRemove(key, out var entry)) entry.Clear();
        }
    }

    private void Remember(string key, ReadOnlySpan<byte> dataKey)
    {
        var now = time.GetUtcNow();
        if (_entries.Count >= capacity)
        {
            foreach (var (k, e) in _entries)
            {
                if (e.Expires <= now && _entries.TryRemove(k, out var expired)) expired.Clear();
            }
            while (_entries.Count >= capacity)
            {
                var oldest = _entries.MinBy(p => p.Value.Expires).Key;
                if (oldest is null || !_entries.TryRemove(oldest, out var evicted)) break;
                evicted.Clear();
            }
        }
        var fresh = new Entry(dataKey.ToArray(), now + timeToLive);
        if (!_entries.TryAdd(key, fresh)) fresh.Clear();
    }

    private static string CacheKey(IReadOnlyList<EncryptedDataKey> edks, IReadOnlyDictionary<string, string> context)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var length = new byte[4];
        void Add(ReadOnlySpan<byte> part)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, part.Length);
            hash.AppendData(length);
            hash.AppendData(part);
        }
        foreach (var edk in edks)
        {
            Add(Encoding.UTF8.GetBytes(edk.ProviderId));
            Add(edk.ProviderInfo.Span);
            Add(edk.Ciphertext.Span);
        }
        foreach (var (name, value) in context.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            Add(Encoding.UTF8.GetBytes(name));
            Add(Encoding.UTF8.GetBytes(value));
        }
        return Convert.ToHexString(hash.GetHashAndReset());
    }

    private sealed class Entry(byte[] key, DateTimeOffset expires)
    {
        public DateTimeOffset Expires { get; } = expires;

        public byte[] Copy() => (byte[])key.Clone();

        public void Clear() => CryptographicOperations.ZeroMemory(key);
    }
}
