namespace Pii.Crypto.Keys;

/// <summary>A stored DEK: only its wrapped form is persisted, beside its purpose, times and use count.</summary>
public sealed record DekRecord(
    int Id,
    string Purpose,
    WrappedDek Wrapped,
    DateTimeOffset CreatedAt,
    DateTimeOffset? RetiredAt,
    long UseCount)
{
    public bool IsActive => RetiredAt is null;
}

/// <summary>
/// Where a service keeps its wrapped DEKs (a table in its own database). Ids are small non-negative integers assigned
/// by the store (they go into every ciphertext header as a varint, so keep them dense).
/// </summary>
public interface IDekStore
{
    /// <summary>
    /// Inserts a new active DEK for <paramref name="purpose"/> unless one is already active (another instance won a
    /// race); returns the record that is active afterwards, which is the caller's only if its wrapped key matches.
    /// </summary>
    Task<DekRecord> InsertIfNoActiveAsync(string purpose, WrappedDek wrapped, DateTimeOffset createdAt, CancellationToken cancellationToken = default);

    Task<DekRecord?> GetAsync(int id, CancellationToken cancellationToken = default);

    /// <summary>The one non-retired DEK for <paramref name="purpose"/>, if any.</summary>
    Task<DekRecord?> GetActiveAsync(string purpose, CancellationToken cancellationToken = default);

    /// <summary>Marks the DEK retired: it still decrypts, it no longer encrypts. Idempotent.</summary>
    Task RetireAsync(int id, DateTimeOffset retiredAt, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<DekRecord>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Atomically adds <paramref name="count"/> to the DEK's use count; returns the new total.</summary>
    Task<long> AddUsesAsync(int id, long count, CancellationToken cancellationToken = default);

    /// <summary>Replaces the wrapped form after a KEK rotation (the DEK itself, and all data under it, is unchanged).</summary>
    Task UpdateWrappedAsync(int id, WrappedDek wrapped, CancellationToken cancellationToken = default);
}
