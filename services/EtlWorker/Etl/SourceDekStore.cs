using Pii.Crypto.Keys;

namespace Pii.EtlWorker.Etl;

/// <summary>
/// The FormApi's encryption_keys table seen through the ETL's read-only MySQL user. <see cref="PreloadAsync"/> reads a
/// batch's DEK records in one query, so the <see cref="DekManager"/> finds them without further round trips (and its
/// unwrap requests reach <see cref="BatchUnwrapKek"/> together). The ETL never creates, retires or rewraps DEKs.
/// </summary>
public sealed class SourceDekStore(SourceReader source) : IDekStore
{
    private IReadOnlyDictionary<int, DekRecord> _loaded = new Dictionary<int, DekRecord>();

    public async Task PreloadAsync(IReadOnlyCollection<int> ids, CancellationToken cancellationToken) =>
        _loaded = await source.ReadDeksAsync(ids, cancellationToken).ConfigureAwait(false);

    public async Task<DekRecord?> GetAsync(int id, CancellationToken cancellationToken = default)
    {
        if (_loaded.TryGetValue(id, out var record))
        {
            return record;
        }

        var read = await source.ReadDeksAsync([id], cancellationToken).ConfigureAwait(false);
        return read.GetValueOrDefault(id);
    }

    public Task<DekRecord> InsertIfNoActiveAsync(string purpose, WrappedDek wrapped, DateTimeOffset createdAt, CancellationToken cancellationToken = default) => throw ReadOnly();

    public Task<DekRecord?> GetActiveAsync(string purpose, CancellationToken cancellationToken = default) => throw ReadOnly();

    public Task RetireAsync(int id, DateTimeOffset retiredAt, CancellationToken cancellationToken = default) => throw ReadOnly();

    public Task<IReadOnlyList<DekRecord>> ListAsync(CancellationToken cancellationToken = default) => throw ReadOnly();

    public Task<long> AddUsesAsync(int id, long count, CancellationToken cancellationToken = default) => throw ReadOnly();

    public Task UpdateWrappedAsync(int id, WrappedDek wrapped, CancellationToken cancellationToken = default) => throw ReadOnly();

    private static NotSupportedException ReadOnly() => new("The ETL only reads DEKs; it never creates, retires or rewraps them.");
}
