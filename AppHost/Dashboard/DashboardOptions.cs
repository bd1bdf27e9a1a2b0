namespace Pii.AppHost.Dashboard;

/// <summary>Where the dashboard listens, how it authenticates, and how much telemetry it keeps in memory.</summary>
public sealed class DashboardOptions
{
    /// <summary>Pages and JSON API. Port 0 on an IP address (http://127.0.0.1:0) picks a free port.</summary>
    public string UiUrl { get; set; } = "http://localhost:18888";

    /// <summary>OTLP/HTTP receiver (<c>POST /v1/traces|logs|metrics</c>); nothing else is served here.</summary>
    public string OtlpUrl { get; set; } = "http://localhost:18890";

    /// <summary>Token for <c>/login?t=</c> and <c>Authorization: Bearer</c>; null = pages and API open to anyone.</summary>
    public string? BrowserToken { get; set; }

    /// <summary>Value every OTLP request must carry in <c>x-otlp-api-key</c>; null = OTLP unsecured.</summary>
    public string? OtlpApiKey { get; set; }

    /// <summary>Log records kept across all resources (Aspire's MaxLogCount); the oldest is evicted first.</summary>
    public int MaxLogCount { get; set; } = 10_000;

    /// <summary>Traces kept across all resources (Aspire's MaxTraceCount); the oldest trace is evicted first.</summary>
    public int MaxTraceCount { get; set; } = 10_000;

    /// <summary>Spans kept per trace; later spans of a runaway trace are dropped.</summary>
    public int MaxSpansPerTrace { get; set; } = 1_000;

    /// <summary>Instruments (resource × meter × name) kept; the least recently updated is evicted first.</summary>
    public int MaxInstrumentCount { get; set; } = 2_000;

    /// <summary>Points kept per instrument for its chart.</summary>
    public int MaxPointsPerInstrument { get; set; } = 120;

    /// <summary>Attributes kept per span, log record or event (Aspire's MaxAttributeCount).</summary>
    public int MaxAttributeCount { get; set; } = 128;

    /// <summary>Characters kept per attribute value or log message.</summary>
    public int MaxAttributeLength { get; set; } = 4_096;

    /// <summary>Largest OTLP request body accepted.</summary>
    public long MaxOtlpRequestBytes { get; set; } = 16 * 1024 * 1024;
}
