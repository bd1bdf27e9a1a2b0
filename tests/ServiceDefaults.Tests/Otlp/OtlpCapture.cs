using System.Net;
using System.Text;
using Pii.Testing;

namespace Pii.ServiceDefaults.Tests.Otlp;

/// <summary>
/// An OTLP/HTTP receiver that keeps every request body exactly as the exporter sent it, and decodes the spans and log
/// records in them. <see cref="HttpListener"/> on purpose: unlike Kestrel it creates no Activity, so the OpenTelemetry
/// providers of in-process test hosts never trace the receiver itself.
/// </summary>
public sealed class OtlpCapture : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly object _gate = new();
    private readonly List<(string Path, byte[] Body)> _requests = [];
    private readonly List<CapturedSpan> _spans = [];
    private readonly List<CapturedLog> _logs = [];
    private readonly string? _apiKey;

    private OtlpCapture(string? apiKey)
    {
        _apiKey = apiKey;
        var port = SampleServiceProcess.FreePort();
        Endpoint = new Uri($"http://127.0.0.1:{port}");
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>The base endpoint to put in OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces etc.).</summary>
    public Uri Endpoint { get; }

    /// <summary>Requests refused for a missing or wrong <c>x-otlp-api-key</c> (401).</summary>
    public int Refused { get; private set; }

    /// <param name="apiKey">When set, requests must carry it in <c>x-otlp-api-key</c>, as the Aspire dashboard demands.</param>
    public static OtlpCapture Start(string? apiKey = null) => new(apiKey);

    public IReadOnlyList<CapturedSpan> Spans
    {
        get { lock (_gate) return [.. _spans]; }
    }

    public IReadOnlyList<CapturedLog> Logs
    {
        get { lock (_gate) return [.. _logs]; }
    }

    /// <summary>Every body received on <paramref name="path"/> (e.g. <c>/v1/traces</c>), undecoded.</summary>
    public IReadOnlyList<byte[]> Bodies(string path)
    {
        lock (_gate) return _requests.Where(r => r.Path == path).Select(r => r.Body).ToList();
    }

    /// <summary>True when <paramref name="text"/> occurs, UTF-8 encoded, in any body received (on <paramref name="path"/> only, when given).</summary>
    public bool AnyBodyContains(string text, string? path = null)
    {
        var needle = Encoding.UTF8.GetBytes(text);
        lock (_gate) return _requests.Any(r => (path is null || r.Path == path) && r.Body.AsSpan().IndexOf(needle) >= 0);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            var path = context.Request.Url?.AbsolutePath ?? "";
            if (_apiKey is not null && context.Request.Headers["x-otlp-api-key"] != _apiKey)
            {
                Refused++;
                context.Response.StatusCode = 401;
                context.Response.Close();
                continue;
            }
            Record(path, body.ToArray());
            // An empty Export*ServiceResponse: every field at its default means full success.
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    private void Record(string path, byte[] body)
    {
        var spans = path == "/v1/traces" ? OtlpDecoder.Spans(body) : [];
        var logs = path == "/v1/logs" ? OtlpDecoder.Logs(body) : [];
        lock (_gate)
        {
            _requests.Add((path, body));
            _spans.AddRange(spans);
            _logs.AddRange(logs);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _loop;
    }
}
