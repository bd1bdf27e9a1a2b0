using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;
using Pii.FormApi.Data;
using Pii.Services.Shared;

namespace Pii.FormApi.Keys;

/// <summary>
/// The intake's current DEK. The intake cannot read <c>encryption_keys</c> nor unwrap a stored DEK, so it makes its own:
/// <c>datakey/plaintext/dnc</c> gives the DEK and its wrapped form, the wrapped form is INSERTed (the id comes back
/// in the OK packet), and the plaintext DEK lives only in this process as a <see cref="FieldKey"/>. It is replaced when
/// the database refuses it (its guarded INSERT stores nothing: an admin retired it), when <see cref="DekPolicy.MaxUses"/> encryptions
/// were made, or when it is older than <c>FormApi:DekRotation:MaxAge</c> (the back office's schedule retires its row then).
/// </summary>
internal sealed class IntakeDek(IKeyEncryptionKey kek, DncDatabase database, IOptions<DekRotationOptions> rotation, TimeProvider time) : IDisposable
{
    private readonly DekPolicy _policy = new() { MaxAge = rotation.Value.MaxAge };
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Current? _current;

    /// <summary>The key to encrypt one record with (five fields count as one use of the DEK's nonce budget each).</summary>
    public async ValueTask<FieldKey> GetAsync(int uses, CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && Usable(current) && Interlocked.Add(ref current.Uses, uses) <= _policy.MaxUses)
        {
            return current.Key;
        }
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_current is not null && _current != current && Usable(_current))
            {
                Interlocked.Add(ref _current.Uses, uses);
                return _current.Key;
            }
            var next = await CreateAsync(cancellationToken);
            next.Uses = uses;
            Replace(next);
            return next.Key;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The database refused <paramref name="dekId"/> (retired or destroyed): stop using it.</summary>
    public void Invalidate(int dekId)
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && current.Key.DekId == dekId && Interlocked.CompareExchange(ref _current, null, current) == current)
        {
            current.Key.Dispose();
        }
    }

    public void Dispose()
    {
        _current?.Key.Dispose();
        _gate.Dispose();
    }

    private bool Usable(Current current) =>
        Volatile.Read(ref current.Uses) < _policy.MaxUses && time.GetUtcNow() - current.CreatedAt < _policy.MaxAge;

    private void Replace(Current next)
    {
        // Disposing zeroes the old key once in-flight encryptions release it; a request that fetched it but had not
        // started yet gets ObjectDisposedException, and the intake retries it with the new key.
        Interlocked.Exchange(ref _current, next)?.Key.Dispose();
    }

    private async Task<Current> CreateAsync(CancellationToken cancellationToken)
    {
        using var span = DncDatabase.StartSpan("INSERT", "encryption_keys");
        var generated = await kek.GenerateDataKeyAsync(cancellationToken);
        try
        {
            var createdAt = time.GetUtcNow();
            await using var connection = await database.OpenAsync(cancellationToken);
            int id = await MySqlDekStore.InsertAsync(connection, null, KeyServiceIdentity.Purpose, generated.Wrapped, createdAt.UtcDateTime, cancellationToken);
            return new Current(FieldKey.FromDek(id, generated.Plaintext), createdAt);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(generated.Plaintext);
        }
    }

    private sealed class Current(FieldKey key, DateTimeOffset createdAt)
    {
        public long Uses;

        public FieldKey Key { get; } = key;

        public DateTimeOffset CreatedAt { get; } = createdAt;
    }
}
