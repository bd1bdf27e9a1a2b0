using Pii.ServiceDefaults.Tests.Otlp;
using Pii.Testing;

namespace Pii.ServiceDefaults.Tests;

/// <summary>
/// An OTLP receiver demanding an API key (as the Aspire dashboard does) and two sample service processes exporting to
/// it: <see cref="Service"/> ("alpha") knows <see cref="Peer"/> ("beta") only as <c>services__peer__http__0</c>, the way
/// an AppHost injects a reference, and calls it as <c>https+http://peer</c> (from /chain and from its health check).
/// </summary>
public sealed class TelemetryFixture : IAsyncLifetime
{
    public const string ApiKey = "test-otlp-key-0123456789";
    public const string ServiceName = "alpha";
    public const string InstanceId = "abcdefgh";
    public const string PeerName = "beta";

    public OtlpCapture Otlp { get; private set; } = null!;
    public SampleServiceProcess Peer { get; private set; } = null!;
    public SampleServiceProcess Service { get; private set; } = null!;
    public HttpClient Http { get; } = new();

    public async Task InitializeAsync()
    {
        Otlp = OtlpCapture.Start(ApiKey);
        Peer = await SampleServiceProcess.StartAsync(PeerName, "betainst", Otlp.Endpoint, ApiKey);
        Service = await SampleServiceProcess.StartAsync(ServiceName, InstanceId, Otlp.Endpoint, ApiKey,
            new Dictionary<string, string>
            {
                ["services__peer__http__0"] = Peer.BaseUrl.ToString().TrimEnd('/'),
                // What an AppHost injects in Development: the instrumentation then leaves query strings in url.query and
                // url.full, and only our redacting processor keeps them out of the export.
                ["OTEL_DOTNET_EXPERIMENTAL_ASPNETCORE_DISABLE_URL_QUERY_REDACTION"] = "true",
                ["OTEL_DOTNET_EXPERIMENTAL_HTTPCLIENT_DISABLE_URL_QUERY_REDACTION"] = "true",
            });
        Http.BaseAddress = Service.BaseUrl;
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Service.DisposeAsync();
        await Peer.DisposeAsync();
        await Otlp.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class TelemetryGroup : ICollectionFixture<TelemetryFixture>
{
    public const string Name = "telemetry";
}
