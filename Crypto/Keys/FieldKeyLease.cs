using Pii.Crypto.Fields;

namespace Pii.Crypto.Keys;

/// <summary>
/// A <see cref="FieldKey"/> held for a batch of operations: the cache cannot zero it while the lease is open.
/// Dispose the lease when done (it does not dispose the key, which the cache owns).
/// </summary>
public sealed class FieldKeyLease : IDisposable
{
    private FieldKey? _key;

    internal FieldKeyLease(FieldKey acquiredKey) => _key = acquiredKey;

    public FieldKey Key => _key ?? throw new ObjectDisposedException(nameof(FieldKeyLease));

    public void Dispose() => Interlocked.Exchange(ref _key, null)?.Release();
}
