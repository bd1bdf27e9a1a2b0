using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using MySqlConnector;

namespace Pii.FormApi.Tests;

/// <summary>
/// Failures as a client sees them (issue 10, items 5 and 8): a tampered row is a 502 integrity problem (and is left out
/// of a lookup, which still answers), MariaDB stopped for real is a 503 on both instances. Never a bare 500.
/// </summary>
[Collection(FormApiGroup.Name)]
public sealed class FailureProblemTests(FormApiFixture fixture)
{
    private const string IntegrityFailureType = "urn:piiaspire:problem:integrity-failure";
    private const string DependencyUnavailableType = "urn:piiaspire:problem:dependency-unavailable";

    [Fact]
    public async Task A_tampered_row_is_an_integrity_problem_on_read_and_is_left_out_of_a_lookup()
    {
        var phone = FormApiFixture.UniquePhone();
        var good = await fixture.SubmitAsync(FormApiFixture.SeedBody(phone, $"good.{Guid.NewGuid():N}@example.com", "Goodrow"));
        var bad = await fixture.SubmitAsync(FormApiFixture.SeedBody(phone, $"bad.{Guid.NewGuid():N}@example.com", "Badrow"));
        await using (var owner = await fixture.OpenOwnerAsync())
        {
            await owner.ExecuteAsync("UPDATE dnc_preferences SET last_name = CONCAT(LEFT(last_name, LENGTH(last_name) - 1), CHAR(ASCII(RIGHT(last_name, 1)) ^ 1)) WHERE id = @id",
                new { id = bad.ToByteArray(bigEndian: true) });
        }

        using var agent = fixture.BackofficeClient("agent");
        using (var read = await agent.GetAsync($"/api/dnc/{bad}"))
        {
            var problem = await AssertProblemAsync(read, HttpStatusCode.BadGateway, IntegrityFailureType);
            Assert.Contains("integrity", problem["title"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.DoesNotContain("Badrow", problem.ToJsonString(), StringComparison.Ordinal);
        }
        using (var lookup = await agent.GetAsync($"/api/dnc/lookup?phone={Uri.EscapeDataString(phone)}"))
        {
            Assert.Equal(HttpStatusCode.OK, lookup.StatusCode);
            var found = await lookup.Content.ReadFromJsonAsync<JsonElement[]>();
            Assert.Equal(good, Assert.Single(found!).GetProperty("id").GetGuid());
            Assert.Equal("1", Assert.Single(lookup.Headers.GetValues("X-Integrity-Failures")));
        }
        using var auditor = fixture.BackofficeClient("auditor");
        var entries = await auditor.GetFromJsonAsync<JsonElement[]>($"/api/audit?record_id={bad}");
        Assert.Contains(entries!, e => e.GetProperty("action").GetString() == "read" && e.GetProperty("outcome").GetString() == "tampered");
        Assert.Contains(entries!, e => e.GetProperty("action").GetString() == "lookup" && e.GetProperty("outcome").GetString() == "tampered");

        // The suite shares one database: a row no key can read would be quarantined by every later DEK rotation.
        await using var cleanup = await fixture.OpenOwnerAsync();
        await cleanup.ExecuteAsync("DELETE FROM dnc_preferences WHERE id = @id", new { id = bad.ToByteArray(bigEndian: true) });
    }

    [Fact]
    public async Task MariaDB_down_is_a_503_on_intake_and_back_office_and_health_names_it()
    {
        var id = await fixture.SubmitAsync(FormApiFixture.SeedBody(FormApiFixture.UniquePhone(), $"down.{Guid.NewGuid():N}@example.com"));
        await fixture.Resources.StopAsync("mysql");
        try
        {
            using (var intake = fixture.Intake.CreateClient())
            using (var submit = await intake.PostAsync("/api/dnc", FormApiFixture.Json(FormApiFixture.SeedBody(FormApiFixture.UniquePhone()))))
            {
                await AssertProblemAsync(submit, HttpStatusCode.ServiceUnavailable, DependencyUnavailableType);
            }
            using var agent = fixture.BackofficeClient("agent");
            using (var read = await agent.GetAsync($"/api/dnc/{id}"))
            {
                await AssertProblemAsync(read, HttpStatusCode.ServiceUnavailable, DependencyUnavailableType);
            }
            using (var health = await agent.GetAsync("/health"))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            }
            var report = await fixture.Backoffice.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
            Assert.Equal(HealthStatus.Unhealthy, report.Entries["mysql"].Status);
            Assert.Equal(HealthStatus.Healthy, report.Entries["vault"].Status);
        }
        finally
        {
            await fixture.Resources.StartAsync("mysql", CancellationToken.None);
            MySqlConnection.ClearAllPools();
        }
        using var again = fixture.BackofficeClient("agent");
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync($"/api/dnc/{id}")).StatusCode);
    }

    private static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string type)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(type, problem["type"]!.GetValue<string>());
        Assert.All(problem.Select(p => p.Key), key => Assert.Contains(key, new[] { "type", "title", "status", "trace_id", "retry_after_seconds" }));
        return problem;
    }
}
