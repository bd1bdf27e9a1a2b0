using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Pii.Testing;

/// <summary>
/// Collects one observable gauge of one host, as an exporter would: only the instrument made by that host's
/// <see cref="IMeterFactory"/> (several hosts of the same service run in one test process).
/// </summary>
internal sealed class ObservedGauge : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private double? _last;

    public ObservedGauge(IServiceProvider services, string name)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == name && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, value, _, _) =>
        {
            lock (_gate) _last = value;
        });
        _listener.Start();
    }

    /// <summary>The value one collection reports; null when the gauge reported none.</summary>
    public double? Collect()
    {
        lock (_gate) _last = null;
        _listener.RecordObservableInstruments();
        lock (_gate) return _last;
    }

    public void Dispose() => _listener.Dispose();
}
