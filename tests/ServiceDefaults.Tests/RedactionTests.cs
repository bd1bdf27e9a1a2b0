using System.Net;
using System.Net.Http.Json;
using Pii.Testing;

namespace Pii.ServiceDefaults.Tests;

[Collection(TelemetryGroup.Name)]
/// <summary>
/// Known PII sent through the sample service's endpoint (body and query string) must appear in no byte the OTLP
/// exporter sent (traces, logs, metrics) and in no console line, with the query-redaction of the instrumentation
/// switched off as an AppHost does in Development.
/// </summary>
public sealed class RedactionTests(TelemetryFixture fixture)
{
    private const string Name = "Zelda Quixote-Piiname";
    private const string Ssn = "987-65-4329";
    private const string Email = "zelda.pii@example.org";
    private static readonly string[] KnownPii = [Name, Ssn, Email, "zelda.pii%40example.org", "Quixote"];

    [Fact]
    public async Task Pii_reaches_no_exported_byte_and_no_console_line()
    {
        var response = await fixture.Http.PostAsJsonAsync($"/patients?email={Uri.EscapeDataString(Email)}", new { name = Name, ssn = Ssn });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        var span = await Eventually.WaitAsync(() => fixture.Otlp.Spans.FirstOrDefault(s => s.Name == "register-patient"), "the register-patient span");
        var log = await Eventually.WaitAsync(
            () => fixture.Otlp.Logs.FirstOrDefault(l => l.Body.StartsWith("Registered patient", StringComparison.Ordinal)), "the registration log");
        var server = await Eventually.WaitAsync(() => fixture.Otlp.Spans.FirstOrDefault(s => s.Name == "POST /patients"), "the POST /patients span");
        await Eventually.WaitAsync(() => fixture.Otlp.AnyBodyContains("/patients", "/v1/metrics") ? "seen" : null, "the request's metrics");

        // The mechanism worked (values replaced, not just absent), and the query string was stripped from the server span.
        Assert.Equal("[redacted]", span.Attributes["patient.name"]);
        Assert.Equal("[redacted]", span.Attributes["patient.email"]);
        Assert.Equal("Registered patient [redacted] with SSN [redacted]", log.Body);
        Assert.Equal("[redacted]", log.Attributes["Ssn"]);
        Assert.False(server.Attributes.ContainsKey("url.query"));
        Assert.Equal("/patients", server.Attributes["url.path"]);

        foreach (var pii in KnownPii)
        {
            foreach (var variant in new[] { pii, pii.ToLowerInvariant(), pii.ToUpperInvariant() })
            {
                Assert.False(fixture.Otlp.AnyBodyContains(variant), $"'{variant}' was exported");
            }
            Assert.DoesNotContain(fixture.Service.Output, l => l.Text.Contains(pii, StringComparison.OrdinalIgnoreCase));
        }
    }
}
