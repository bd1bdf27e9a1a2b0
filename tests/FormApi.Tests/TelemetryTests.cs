using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pii.FormApi.Tests;

/// <summary>Everything FormApi logs or traces while storing, looking up and revealing a record is free of its plaintext.</summary>
[Collection(FormApiGroup.Name)]
public sealed class TelemetryTests(FormApiFixture fixture)
{
    [Fact]
    public async Task Logs_and_spans_carry_no_plaintext_pii()
    {
        var phone = FormApiFixture.UniquePhone();
        var email = $"quillon.{Guid.NewGuid():N}@example.org";
        var captured = new CapturingLoggerProvider();
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "Pii.FormApi" or "Microsoft.AspNetCore" or "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var settings = new Dictionary<string, string> { ["Logging:LogLevel:Default"] = "Trace" };
        using var intake = fixture.CreateIntake(settings).WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<ILoggerProvider>(captured)));
        using var backoffice = fixture.CreateBackoffice(new Dictionary<string, string>(settings) { ["FormApi:ReencryptionInBackground"] = "false" })
            .WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<ILoggerProvider>(captured)));

        using var client = intake.CreateClient();
        using var created = await client.PostAsync("/api/dnc", FormApiFixture.Json(FormApiFixture.SeedBody(phone, email, "Quillon")));
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        using var bad = await client.PostAsync("/api/dnc", FormApiFixture.Json(FormApiFixture.SeedBody("+0" + phone, email, "Quillon")));
        using var supervisor = backoffice.CreateClient();
        supervisor.DefaultRequestHeaders.Add("X-Api-Key", fixture.ApiKeys["supervisor"]);
        (await supervisor.GetAsync($"/api/dnc/{id}?reveal=true&reason=telemetry%20check")).EnsureSuccessStatusCode();
        (await supervisor.GetAsync($"/api/dnc/lookup?email={Uri.EscapeDataString(email)}")).EnsureSuccessStatusCode();

        Assert.Contains(spans, s => s.DisplayName == "INSERT dnc_preferences" && (string?)s.GetTagItem("db.system") == "mysql");
        Assert.NotEmpty(captured.Messages);
        var telemetry = string.Join("\n", captured.Messages.Concat(spans.SelectMany(s =>
            s.TagObjects.Select(t => $"{t.Key}={t.Value}").Append(s.DisplayName).Concat(s.Events.Select(e => e.Name)))));
        foreach (var plaintext in new[] { "Quillon", phone[2..], email, "quillon." })
        {
            Assert.DoesNotContain(plaintext, telemetry, StringComparison.OrdinalIgnoreCase);
        }
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Messages { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull
            {
                owner.Messages.Enqueue($"{category} scope {state}");
                return null;
            }

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Messages.Enqueue($"{category} {formatter(state, exception)} {exception}");
        }
    }
}
