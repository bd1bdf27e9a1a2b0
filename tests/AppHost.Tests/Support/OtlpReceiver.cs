using System.IO.Compression;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Pii.AppHost.Tests.Support;

/// <summary>
/// The test's own OTLP/HTTP endpoint (the AppHost points every service's exporter at it): keeps every export request
/// body of traces, logs and metrics as received, so a test can sweep all of it for PII and read which services took
/// part in which trace.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<(string Signal, byte[] Body)> _exports = [];

    private OtlpReceiver(WebApplication app) => _app = app;

    public string Endpoint { get; private set; } = "";

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/{signal}", async (string signal, HttpRequest request) =>
        {
            using var body = new MemoryStream();
            var source = request.Headers.ContentEncoding == "gzip" ? new GZipStream(request.Body, CompressionMode.Decompress) : request.Body;
            await source.CopyToAsync(body);
            lock (receiver._exports) receiver._exports.Add((signal, body.ToArray()));
            return Results.Bytes([], "application/x-protobuf");
        });
        await app.StartAsync();
        receiver.Endpoint = app.Urls.Single();
        return receiver;
    }

    public IReadOnlyList<(string Signal, byte[] Body)> Exports()
    {
        lock (_exports) return [.. _exports];
    }

    public IEnumerable<OtlpWire.Span> Spans() => Exports().Where(e => e.Signal == "traces").SelectMany(e => OtlpWire.Spans(e.Body));

    /// <summary>Every export body as text (protobuf strings are UTF-8), for a sweep that must find nothing.</summary>
    public string AllText() => string.Join('\n', Exports().Select(e => System.Text.Encoding.UTF8.GetString(e.Body)));

    /// <summary>Waits until a trace holds spans of every one of <paramref name="services"/>; returns its id.</summary>
    public async Task<string> WaitForTraceAcrossAsync(TimeSpan limit, params string[] services)
    {
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            var trace = Spans().GroupBy(s => s.TraceId).FirstOrDefault(t => services.All(service => t.Any(s => s.Service == service)));
            if (trace is not null) return trace.Key;
            await Task.Delay(500);
        }
        throw new TimeoutException($"No trace with spans of {string.Join(", ", services)} arrived in {limit}.");
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
