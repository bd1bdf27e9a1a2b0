using System.Threading.Channels;

namespace Pii.EtlWorker.Etl;

/// <summary>Counts of one pass.</summary>
public sealed record PassResult(int Read, int Loaded, int Quarantined, int Erased);

/// <summary>
/// One ETL pass: preferences past their watermark in batches, then erasures past theirs, until both feeds are caught
/// up to the settle window. Erasures run after the preferences so an erasure is always applied after any load of the
/// row it erases; a replay of either step is idempotent.
/// </summary>
/// <remarks>
/// Preferences flow through three sequential stages joined by bounded channels (two batches in flight each):
/// read (MySQL keyset page) → prepare (decrypt, index in the key service) → commit (one PostgreSQL transaction with
/// upserts, quarantine and the batch's last position as watermark). Each stage keeps batch order, so commits advance
/// the watermark monotonically and a crash loses at most uncommitted batches, which the next pass reads again.
/// The stages overlap the three servers' round trips; a failure in any stage cancels the others and fails the pass.
/// </remarks>
public sealed class EtlPass(SourceReader source, SuppressionStore target, RowDecryptor decryptor, SuppressionIndexer indexer, EtlMetrics metrics, EtlOptions options)
{
    private const int BatchesInFlight = 2;

    public async Task<PassResult> RunAsync(RowPrinter? printer, CancellationToken cancellationToken)
    {
        var keyVersion = await target.EnsureIndexKeyVersionAsync(options.IndexKeyName, indexer.LatestVersionAsync, cancellationToken).ConfigureAwait(false);
        var start = await target.ReadWatermarkAsync(SourceFeed.Preferences, cancellationToken).ConfigureAwait(false);
        using var failure = new FirstFailure(cancellationToken);
        var read = Channel.CreateBounded<IReadOnlyList<SourceRow>>(BatchesInFlight);
        var prepared = Channel.CreateBounded<PreparedBatch>(BatchesInFlight);
        var reading = ReadAsync(start, read.Writer, failure);
        var preparing = PrepareAsync(read.Reader, prepared.Writer, printer is not null, keyVersion, failure);
        var committing = CommitAsync(prepared.Reader, printer, failure);
        try
        {
            await Task.WhenAll(reading, preparing, committing).ConfigureAwait(false);
        }
        catch (Exception) when (failure.First is not null)
        {
            // The stages cancelled by the failure throw too; report the cause.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure.First);
        }

        var committed = await committing.ConfigureAwait(false);
        metrics.OldestUnprocessed(await source.OldestUnprocessedAsync(committed.Position ?? start, cancellationToken).ConfigureAwait(false));

        var erased = 0;
        var erasurePosition = await target.ReadWatermarkAsync(SourceFeed.Erasures, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var erasures = await source.ReadErasuresAsync(erasurePosition, options.BatchSize, options.SettleWindow, cancellationToken).ConfigureAwait(false);
            if (erasures.Count == 0)
            {
                break;
            }

            erasurePosition = erasures[^1].Position;
            await target.CommitErasuresAsync([.. erasures.Select(e => e.Id)], erasurePosition, cancellationToken).ConfigureAwait(false);
            erased += erasures.Count;
            metrics.Erased(erasures.Count);
        }

        return new PassResult(committed.Read, committed.Loaded, committed.Quarantined, erased);
    }

    private async Task ReadAsync(Watermark after, ChannelWriter<IReadOnlyList<SourceRow>> output, FirstFailure failure)
    {
        try
        {
            while (true)
            {
                var rows = await source.ReadPreferencesAsync(after, options.BatchSize, options.SettleWindow, failure.Token).ConfigureAwait(false);
                if (rows.Count == 0)
                {
                    break;
                }

                metrics.Read(rows.Count);
                await output.WriteAsync(rows, failure.Token).ConfigureAwait(false);
                after = rows[^1].Position;
            }

            output.Complete();
        }
        catch (Exception e)
        {
            output.TryComplete(failure.Record(e));
            throw;
        }
    }

    private async Task PrepareAsync(ChannelReader<IReadOnlyList<SourceRow>> input, ChannelWriter<PreparedBatch> output, bool includeNames, int keyVersion, FirstFailure failure)
    {
        try
        {
            await foreach (var rows in input.ReadAllAsync(failure.Token).ConfigureAwait(false))
            {
                var outcomes = await decryptor.DecryptAsync(rows, includeNames, failure.Token).ConfigureAwait(false);
                var ok = outcomes.Where(o => o.Contact is not null).ToList();
                var values = new List<(ContactKind, string)>(ok.Count * 2);
                foreach (var outcome in ok)
                {
                    values.Add((ContactKind.Phone, outcome.Contact!.Phone));
                    values.Add((ContactKind.Email, outcome.Contact.Email));
                }

                var indexes = await indexer.ComputeAsync(values, keyVersion, failure.Token).ConfigureAwait(false);
                var entries = ok.Select((o, i) => new SuppressionEntry(o.Row.Id, indexes[2 * i], indexes[(2 * i) + 1], o.Row.PhoneDnc, o.Row.EmailDnc, o.Row.CreatedAt, o.Row.UpdatedAt, o.Row.RowVersion)).ToList();
                var quarantined = outcomes.Where(o => o.Contact is null).Select(o => new QuarantineEntry(o.Row.Id, o.Row.UpdatedAt, o.Row.RowVersion, o.QuarantineReason!, o.Row.PhoneBlindIndex, o.Row.EmailBlindIndex)).ToList();
                await output.WriteAsync(new PreparedBatch(outcomes, entries, quarantined, rows[^1].Position), failure.Token).ConfigureAwait(false);
            }

            output.Complete();
        }
        catch (Exception e)
        {
            output.TryComplete(failure.Record(e));
            throw;
        }
    }

    private async Task<Committed> CommitAsync(ChannelReader<PreparedBatch> input, RowPrinter? printer, FirstFailure failure)
    {
        var committed = new Committed(null, 0, 0, 0);
        try
        {
            await foreach (var batch in input.ReadAllAsync(failure.Token).ConfigureAwait(false))
            {
                metrics.OldestUnprocessed(batch.Outcomes[0].Row.UpdatedAt);
                await target.CommitPreferencesAsync(batch.Entries, batch.Quarantined, batch.Position, failure.Token).ConfigureAwait(false);
                metrics.Loaded(batch.Entries.Count);
                metrics.Quarantined(batch.Quarantined.Count);
                committed = new Committed(batch.Position, committed.Read + batch.Outcomes.Count, committed.Loaded + batch.Entries.Count, committed.Quarantined + batch.Quarantined.Count);
                if (printer is not null)
                {
                    foreach (var outcome in batch.Outcomes)
                    {
                        printer.Print(outcome);
                    }
                }
            }

            return committed;
        }
        catch (Exception e)
        {
            failure.Record(e);
            throw;
        }
    }

    private sealed record PreparedBatch(IReadOnlyList<DecryptOutcome> Outcomes, List<SuppressionEntry> Entries, List<QuarantineEntry> Quarantined, Watermark Position);

    private sealed record Committed(Watermark? Position, int Read, int Loaded, int Quarantined);

    /// <summary>The first exception of any stage; recording it cancels the others.</summary>
    private sealed class FirstFailure(CancellationToken outer) : IDisposable
    {
        private readonly CancellationTokenSource _cancel = CancellationTokenSource.CreateLinkedTokenSource(outer);
        private Exception? _first;

        public CancellationToken Token => _cancel.Token;

        public Exception? First => Volatile.Read(ref _first);

        public Exception Record(Exception e)
        {
            if (e is not OperationCanceledException || !_cancel.IsCancellationRequested)
            {
                Interlocked.CompareExchange(ref _first, e, null);
            }

            _cancel.Cancel();
            return e;
        }

        public void Dispose() => _cancel.Dispose();
    }
}
