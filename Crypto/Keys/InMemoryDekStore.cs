namespace Pii.Crypto.Keys;

/// <summary>
/// A process-local <see cref="IDekStore"/>: for tools, tests and single-process deployments whose DEKs need not
/// outlive the process. Services persist DEKs in their database instead.
/// </summary>
public sealed class InMemoryDekStore : IDekStore
{
    private readonly Lock _gate = new();
    private readonly List<DekRecord> _records = [];

    public Task<DekRecord> InsertIfNoActiveAsync(string purpose, WrappedDek wrapped, DateTimeOffset createdAt, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            DekRecord? active = _records.Find(r => r.Purpose == purpose && r.IsActive);
            if (active is not null)
            {
                return Task.FromResult(active);
            }
            var record = new DekRecord(_records.Count, purpose, wrapped, createdAt, RetiredAt: null, UseCount: 0);
            _records.Add(record);
            return Task.FromResult(record);
        }
    }

    public Task<DekRecord?> GetAsync(int id, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(id >= 0 && id < _records.Count ? _records[id] : null);
        }
    }

    public Task<DekRecord?> GetActiveAsync(string purpose, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_records.Find(r => r.Purpose == purpose && r.IsActive));
        }
    }

    public Task RetireAsync(int id, DateTimeOffset retiredAt, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            DekRecord record = Existing(id);
            if (record.IsActive)
            {
                _records[id] = record with { RetiredAt = retiredAt };
            }
            return Task.CompletedTask;
        }
    }

    public Task<IReadOnlyList<DekRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyList<DekRecord>>([.. _records]);
        }
    }

    public Task<long> AddUsesAsync(int id, long count, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            DekRecord record = Existing(id);
            _records[id] = record with { UseCount = record.UseCount + count };
            return Task.FromResult(record.UseCount + count);
        }
    }

    public Task UpdateWrappedAsync(int id, WrappedDek wrapped, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _records[id] = Existing(id) with { Wrapped = wrapped };
            return Task.CompletedTask;
        }
    }

    private DekRecord Existing(int id) =>
        id >= 0 && id < _records.Count ? _records[id] : throw new UnknownKeyException("No DEK with this id.");
}
