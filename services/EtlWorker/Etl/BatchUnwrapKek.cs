using Pii.Crypto;
using Pii.Crypto.Keys;
using Pii.Crypto.Transit;

namespace Pii.EtlWorker.Etl;

/// <summary>
/// The DNC KEK in the key service, unwrapping many DEKs with one <c>decrypt</c> call (<c>batch_input</c>): between
/// <see cref="BeginBatch"/> and <see cref="FlushAsync"/> unwrap requests queue; the flush sends them together and
/// completes each with its own result or typed error (a tampered wrapped DEK fails alone). An unwrap requested outside
/// a batch, or after the flush took the queue, is sent on its own, so batching never affects correctness.
/// Everything else goes to <see cref="TransitKek"/> (and the ETL's token may not do it).
/// </summary>
public sealed class BatchUnwrapKek(TransitClient client, string name) : IKeyEncryptionKey
{
    private readonly TransitKek _single = new(client, name);
    private readonly Lock _gate = new();
    private List<(WrappedDek Wrapped, TaskCompletionSource<byte[]> Result)>? _queue;

    public string Name => _single.Name;

    public void BeginBatch()
    {
        lock (_gate)
        {
            _queue ??= [];
        }
    }

    /// <summary>Sends every queued unwrap in one call and ends the batch.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        List<(WrappedDek Wrapped, TaskCompletionSource<byte[]> Result)>? queued;
        lock (_gate)
        {
            queued = _queue;
            _queue = null;
        }

        if (queued is null || queued.Count == 0)
        {
            return;
        }

        try
        {
            var results = await client.DecryptBatchAsync(Name, [.. queued.Select(q => q.Wrapped.Ciphertext)], cancellationToken: cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < queued.Count; i++)
            {
                var result = i < results.Count ? results[i] : null;
                if (result?.Value is { } plaintext)
                {
                    queued[i].Result.SetResult(plaintext);
                }
                else
                {
                    queued[i].Result.SetException(result?.Error ?? new MalformedInputException("The key service returned fewer batch results than it was sent."));
                }
            }
        }
        catch (Exception e)
        {
            // Not a verdict on any DEK (unreachable, forbidden, cancelled): every waiter sees the same failure.
            foreach (var (_, result) in queued)
            {
                result.TrySetException(e);
            }

            throw;
        }
    }

    public Task<byte[]> UnwrapAsync(WrappedDek wrapped, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        if (!string.Equals(wrapped.KekName, Name, StringComparison.Ordinal))
        {
            return _single.UnwrapAsync(wrapped, cancellationToken);
        }

        lock (_gate)
        {
            if (_queue is not null)
            {
                var result = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
                _queue.Add((wrapped, result));
                return result.Task;
            }
        }

        return _single.UnwrapAsync(wrapped, cancellationToken);
    }

    public Task<GeneratedDek> GenerateDataKeyAsync(CancellationToken cancellationToken = default) => _single.GenerateDataKeyAsync(cancellationToken);

    public Task<WrappedDek> WrapAsync(ReadOnlyMemory<byte> dek, CancellationToken cancellationToken = default) => _single.WrapAsync(dek, cancellationToken);

    public Task<WrappedDek> RewrapAsync(WrappedDek wrapped, CancellationToken cancellationToken = default) => _single.RewrapAsync(wrapped, cancellationToken);
}
