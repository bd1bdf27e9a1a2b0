namespace Pii.EtlWorker.Etl;

/// <summary>Counts of one pass.</summary>
public sealed record PassResult(int Read, int Loaded, int Quarantined, int Erased);

/// <summary>
/// One ETL pass: preferences past their watermark in batches (decrypt → index in the key service → one PostgreSQL
/// transaction with upserts, quarantine and watermark), then erasures past theirs (deletions and watermark in one
/// transaction), until both streams are caught up to the settle window. Erasures run after the preferences so an
/// erasure is always applied after any load of the row it erases; a replay of either step is idempotent.
/// </summary>
public sealed class EtlPass(SourceReader source, SuppressionStore target, RowDecryptor decryptor, SuppressionIndexer indexer, EtlMetrics metrics, EtlOptions options)
{
    public async Task<PassResult> RunAsync(RowPrinter? printer, CancellationToken cancellationToken)
    {
        var keyVersion = await target.EnsureIndexKeyVersionAsync(options.IndexKeyName, indexer.LatestVersionAsync, cancellationToken).ConfigureAwait(false);
        int read = 0, loaded = 0, quarantined = 0, erased = 0;

        var position = await target.ReadWatermarkAsync(SourceFeed.Preferences, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            var rows = await source.ReadPreferencesAsync(position, options.BatchSize, options.SettleWindow, cancellationToken).ConfigureAwait(false);
            if (rows.Count == 0)
            {
                break;
            }

            metrics.OldestUnprocessed(rows[0].UpdatedAt);
            metrics.Read(rows.Count);
            read += rows.Count;
            var outcomes = await decryptor.DecryptAsync(rows, includeNames: printer is not null, cancellationToken).ConfigureAwait(false);
            var ok = outcomes.Where(o => o.Contact is not null).ToList();
            var values = new List<(ContactKind, string)>(ok.Count * 2);
            foreach (var outcome in ok)
            {
                values.Add((ContactKind.Phone, outcome.Contact!.Phone));
                values.Add((ContactKind.Email, outcome.Contact.Email));
            }

            var indexes = await indexer.ComputeAsync(values, keyVersion, cancellationToken).ConfigureAwait(false);
            var entries = ok.Select((o, i) => new SuppressionEntry(o.Row.Id, indexes[2 * i], indexes[(2 * i) + 1], o.Row.PhoneDnc, o.Row.EmailDnc, o.Row.CreatedAt, o.Row.UpdatedAt, o.Row.RowVersion)).ToList();
            var bad = outcomes.Where(o => o.Contact is null).Select(o => new QuarantineEntry(o.Row.Id, o.Row.UpdatedAt, o.Row.RowVersion, o.QuarantineReason!)).ToList();
            position = rows[^1].Position;
            await target.CommitPreferencesAsync(entries, bad, position, cancellationToken).ConfigureAwait(false);
            loaded += entries.Count;
            quarantined += bad.Count;
            metrics.Loaded(entries.Count);
            metrics.Quarantined(bad.Count);
            if (printer is not null)
            {
                foreach (var outcome in outcomes)
                {
                    printer.Print(outcome);
                }
            }
        }

        metrics.OldestUnprocessed(await source.OldestUnprocessedAsync(position, cancellationToken).ConfigureAwait(false));

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

        return new PassResult(read, loaded, quarantined, erased);
    }
}
