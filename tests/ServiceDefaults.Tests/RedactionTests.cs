using System.Net;
using System.Net.Http.Json;
using Pii.Testing;

namespace Pii.ServiceDefaults.Tests;

[Collection(TelemetryGroup.Name)]
/// <summary>Known PII sent through the sample service's endpoint (body and query string) must appear in no exported log or span.</summary>
public sealed class RedactionTests(TelemetryFixture fixture)
{
    private const string Name = "Zelda Quixote-Piiname";
    private const string Ssn = "987-65-4329";
    private const string Email = "zelda.pii@example.org";
    private static readonly string[] KnownPii = [Name, Ssn, Email, "zelda.pii%40example.org", "Quixote"];

    [Fact]
    public async Task Pii_reaches_no_exported_log_span_or_console_line()
    {
        var response = await fixture.Http.PostAsJsonAsync($"/patients?email={Uri.EscapeDataString(Email)}", new { name = Name, ssn = Ssn });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        var store = fixture.Dashboard.Store;
        var span = await Eventually.WaitAsync(
            () => store.GetTraces().SelectMany(t => t.Spans).FirstOrDefault(s => s.Name == "register-patient"), "the register-patient span");
        var log = await Eventually.WaitAsync(
            () => store.GetLogs().FirstOrDefault(l => l.Message.StartsWith("Registered patient", StringComparison.Ordinal)), "the registration log");
        var server = await Eventually.WaitAsync(
            () => store.GetTraces().SelectMany(t => t.Spans).FirstOrDefault(s => s.Name == "POST /patients"), "the POST /patients span");

        // The mechanism worked (values replaced, not just absent), and the query string was stripped from the server span.
        Assert.Equal("[redacted]", span.Attributes["patient.name"]);
        Assert.Equal("[redacted]", span.Attributes["patient.email"]);
        Assert.Equal("Registered patient [redacted] with SSN [redacted]", log.Message);
        Assert.Equal("[redacted]", log.Attributes["Ssn"]);
        Assert.False(server.Attributes.ContainsKey("url.query"));

        var exported = store.GetTraces().SelectMany(t => t.Spans).SelectMany(s =>
                new[] { s.Name, s.StatusMessage ?? "" }.Concat(s.Attributes.Keys).Concat(s.Attributes.Values)
                    .Concat(s.Events.SelectMany(e => e.Attributes.Values.Append(e.Name))))
            .Concat(store.GetLogs().SelectMany(l => new[] { l.Message }.Concat(l.Attributes.Values)))
            .Concat(fixture.Service.Output.Select(l => l.Text))
            .ToList();
        foreach (var pii in KnownPii)
        {
            Assert.DoesNotContain(exported, text => text.Contains(pii, StringComparison.OrdinalIgnoreCase));
        }
    }
}
