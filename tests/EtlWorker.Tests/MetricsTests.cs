using System.Diagnostics.Metrics;
using Pii.EtlWorker.Etl;

namespace Pii.EtlWorker.Tests;

[Collection(EtlServers.Name)]
public sealed class MetricsTests(EtlFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public void Meter_is_the_one_service_defaults_export()
    {
        Assert.Equal(EtlMetrics.MeterName, typeof(EtlPass).Assembly.GetName().Name);
    }

    [Fact]
    public async Task Rows_read_loaded_quarantined_and_lag_are_measured()
    {
        using var key = await fixture.CreateDekAsync();
        var writer = new SourceWriter(fixture.SourceAdminConnectionString);
        var good = Enumerable.Range(0, 4).Select(_ => TestContact.Next()).ToList();
        await writer.InsertAsync(key, good);
        await writer.InsertAsync(key, [TestContact.Next() with { Email = "no-at-sign" }]);
        await writer.ExecuteAsync("UPDATE dnc_preferences SET updated_at = UTC_TIMESTAMP(6) - INTERVAL 30 MINUTE");

        var totals = new Dictionary<string, long>();
        double? lag = null;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EtlMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            lock (totals) totals[instrument.Name] = totals.GetValueOrDefault(instrument.Name) + value;
        });
        listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => lag = value);
        listener.Start();

        // Rows inside the settle window are not read yet: lag is their age.
        await using (var waiting = new WorkerFactory(fixture, ("Etl:SettleWindow", "01:00:00")))
        {
            await waiting.Store.MigrateAsync(default);
            Assert.Equal(0, (await waiting.Pass.RunAsync(null, default)).Read);
            listener.RecordObservableInstruments();
            Assert.InRange(lag!.Value, 1790, 1900);
        }

        await using var worker = new WorkerFactory(fixture);
        await worker.Pass.RunAsync(null, default);
        listener.RecordObservableInstruments();
        Assert.Equal(0, lag);
        Assert.Equal(5, totals["etl.rows.read"]);
        Assert.Equal(4, totals["etl.rows.loaded"]);
        Assert.Equal(1, totals["etl.rows.quarantined"]);
    }
}
