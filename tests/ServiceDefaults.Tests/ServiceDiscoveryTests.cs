using Pii.Testing;

namespace Pii.ServiceDefaults.Tests;

[Collection(TelemetryGroup.Name)]
/// <summary>
/// Microsoft.Extensions.ServiceDiscovery, wired by AddServiceDefaults: <c>https+http://peer</c> resolves from
/// <c>services__peer__http__0</c> (no https endpoint given, so http), and the call is one trace across both processes.
/// </summary>
public sealed class ServiceDiscoveryTests(TelemetryFixture fixture)
{
    [Fact]
    public async Task Logical_peer_address_resolves_from_the_injected_endpoint_and_the_trace_spans_both_services()
    {
        Assert.Equal("\"peer said hello\"", await fixture.Http.GetStringAsync("/chain"));

        var chain = await Eventually.WaitAsync(
            () => fixture.Otlp.Spans.FirstOrDefault(s => s.Name == "GET /chain" && s.ServiceName == TelemetryFixture.ServiceName), "the /chain server span");
        var client = await Eventually.WaitAsync(
            () => fixture.Otlp.Spans.FirstOrDefault(s => s.TraceId == chain.TraceId && s.Kind == 3), "the client span to the peer");
        var peer = await Eventually.WaitAsync(
            () => fixture.Otlp.Spans.FirstOrDefault(s => s.TraceId == chain.TraceId && s.ServiceName == TelemetryFixture.PeerName), "the peer's server span");

        Assert.Equal(new Uri(fixture.Peer.BaseUrl, "/hello").ToString(), client.Attributes["url.full"]);
        Assert.Equal("GET /hello", peer.Name);
        Assert.Equal(2, peer.Kind);
    }
}
