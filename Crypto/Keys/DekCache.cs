using Pii.Crypto.Fields;

namespace Pii.Crypto.Keys;

/// <summary>
/// Bounded LRU cache of unwrapped DEKs (as <see cref="FieldKey"/>s) with an absolute time-to-live. An evicted key is
/// disposed, which zeroes its key material once the last in-flight operation releases it. Keys come out acquired;
/// the caller releases them.
/// </summary>
internal sealed class DekCache : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<int, LinkedListNode<Entry>> _entries = [];
    private readonly LinkedList<Entry> _recency = new();
    private readonly int _capacity;
    private readonly TimeSpan _timeToLive;
    private readonly TimeProvider _time;

    public DekCache(int capacity, TimeSpan timeToLive, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _timeToLive = timeToLive;
        _time = time;
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    public bool TryAcquire(int dekId, out FieldKey? key)
    {
        lock (_gate)
        {
            key = null;
            if (!_entries.TryGetValue(dekId, out LinkedListNode<Entry>? node))
            {
                return false;
            }
            if (node.Value.ExpiresAt <= _time.GetUtcNow())
            {
                Evict(node);
                return false;
            }
            _recency.Remove(node);
            _recency.AddFirst(node);
            node.Value.Key.Acquire();
            key = node.Value.Key;
            return true;
        }
    }

    /// <summary>Caches <paramref name="key"/> (or keeps an already cached key for the same id and disposes this one); returns the cached key acquired.</summary>
    public FieldKey AddAndAcquire(FieldKey key)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(key.DekId, out LinkedListNode<Entry>? existing))
            {
                if (existing.Value.ExpiresAt > _time.GetUtcNow())
                {
                    key.Dispose();
                    existing.Value.Key.Acquire();
                    return existing.Value.Key;
                }
                Evict(existing);
            }
            while (_entries.Count >= _capacity)
            {
                Evict(_recency.Last!);
            }
            var node = _recency.AddFirst(new Entry(key, _time.GetUtcNow() + _timeToLive));
            _entries[key.DekId] = node;
            key.Acquire();
            return key;
        }
    }

    /// <summary>Evicts the entry of <paramref name="dekId"/>, if cached (its bytes are zeroed once no lease holds it).</summary>
    public void Remove(int dekId)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(dekId, out LinkedListNode<Entry>? node))
            {
                Evict(node);
            }
        }
    }

    /// <summary>Evicts expired entries now (lookups also evict lazily).</summary>
    public void EvictExpired()
    {
        lock (_gate)
        {
            DateTimeOffset now = _time.GetUtcNow();
            for (LinkedListNode<Entry>? node = _recency.Last; node is not null;)
            {
                LinkedListNode<Entry>? previous = node.Previous;
                if (node.Value.ExpiresAt <= now)
                {
                    Evict(node);
                }
                node = previous;
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            while (_recency.Last is not null)
            {
                Evict(_recency.Last);
            }
        }
    }

    private void Evict(LinkedListNode<Entry> node)
    {
        _recency.Remove(node);
        _entries.Remove(node.Value.Key.DekId);
        node.Value.Key.Dispose();
    }

    private sealed record Entry(FieldKey Key, DateTimeOffset ExpiresAt);
}
