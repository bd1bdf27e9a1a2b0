extern alias documentservice;

using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using Pii.Crypto.Fields;
using Pii.Testing;

namespace Pii.DocumentService.Tests;

/// <summary>The scheduled DEK age policy (DocumentService:DekRotation) and its gauge, against PostgreSQL and the key service.</summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class DekRotationScheduleTests(DocumentServiceFixture fixture)
{
    private const string Gauge = "documentservice.dek.oldest_active_age_seconds";
    private static readonly TimeSpan Backdating = TimeSpan.FromDays(40);

    [Fact]
    public async Task The_schedule_replaces_each_over_age_DEK_and_the_gauge_reports_the_oldest_age()
    {
        var earlier = await fixture.CreatePatientAsync(fullName: "Rosalind Franklin");
        await using var db = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        var overAge = (await db.QueryAsync<(int Id, string Purpose)>("SELECT id, purpose FROM documents.deks WHERE retired_at IS NULL")).ToList();
        Assert.Contains(overAge, d => d.Purpose == "patients");
        await db.ExecuteAsync("UPDATE documents.deks SET created_at = created_at - interval '40 days' WHERE retired_at IS NULL");

        // Under a longer MaxAge the schedule leaves them active, and the gauge shows how old the oldest is.
        await using (var lenient = Host(maxAge: "60.00:00:00"))
        using (var gauge = new ObservedGauge(lenient.Services, Gauge))
        {
            var age = await Eventually.WaitForValueAsync(() => Task.FromResult(gauge.Collect()), "the gauge's first value");
            Assert.InRange(age, Backdating.TotalSeconds, (Backdating + TimeSpan.FromHours(1)).TotalSeconds);
            Assert.Equal(overAge.Count, await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM documents.deks WHERE retired_at IS NULL"));
        }

        // Under the default MaxAge (30 days) the next run retires each one and makes its purpose a new DEK at once.
        await using var host = Host(maxAge: null);
        using var fresh = new ObservedGauge(host.Services, Gauge);
        var ids = overAge.Select(d => d.Id).ToList();
        await Eventually.WaitForValueAsync(async () =>
            await db.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM documents.deks WHERE id = ANY(@ids) AND retired_at IS NULL", new { ids }) == 0 ? true : (bool?)null,
            "the over-age DEKs to be retired");
        var active = (await db.QueryAsync<(int Id, string Purpose, DateTime CreatedAt)>(
            "SELECT id, purpose, created_at FROM documents.deks WHERE retired_at IS NULL")).ToList();
        Assert.Equal(overAge.Select(d => d.Purpose).Order(), active.Select(d => d.Purpose).Order());
        Assert.All(active, d => Assert.True(DateTime.UtcNow - d.CreatedAt.ToUniversalTime() < TimeSpan.FromMinutes(10)));
        var youngest = await Eventually.WaitForValueAsync(() => Task.FromResult(fresh.Collect() is { } v && v < 3600 ? v : (double?)null), "the gauge to drop below an hour");
        Assert.True(youngest >= 0);

        // New rows are written under the new DEK; rows under the retired one still decrypt.
        using var client = host.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", DocumentServiceFixture.ClinicianKey);
        using var created = await client.PostAsJsonAsync("/api/patients", new
        {
            mrn = "MRN-AGE" + Random.Shared.Next(100000, 999999), fullName = "Barbara McClintock", dateOfBirth = "1902-06-16",
            address = "Cold Spring Harbor", ssn = "219-09-9999", diagnosisCodes = Array.Empty<string>(),
        });
        created.EnsureSuccessStatusCode();
        var laterId = Guid.Parse((await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>());
        var fullName = await db.QuerySingleAsync<byte[]>("SELECT full_name FROM documents.patients WHERE id = @laterId", new { laterId });
        Assert.Equal(active.Single(d => d.Purpose == "patients").Id, FieldCipher.ReadHeader(fullName).DekId);
        var patient = await client.GetFromJsonAsync<JsonObject>($"/api/patients/{earlier}");
        Assert.Equal("Rosalind Franklin", patient!["fullName"]!.GetValue<string>());
    }

    [Fact]
    public async Task With_the_key_service_down_the_over_age_DEK_stays_active_the_gauge_shows_it_and_the_run_catches_up_later()
    {
        await fixture.CreatePatientAsync(fullName: "Lise Meitner");
        await using var db = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        await using var host = Host(maxAge: null);
        using var gauge = new ObservedGauge(host.Services, Gauge);
        await Eventually.WaitForValueAsync(() => Task.FromResult(gauge.Collect() is { } v && v < 3600 ? v : (double?)null), "a young DEK's age");

        await fixture.Resources.StopAsync("vault");
        try
        {
            var overAge = (await db.QueryAsync<int>("SELECT id FROM documents.deks WHERE retired_at IS NULL")).ToList();
            await db.ExecuteAsync("UPDATE documents.deks SET created_at = created_at - interval '40 days' WHERE id = ANY(@overAge)", new { overAge });
            await Eventually.WaitForValueAsync(() => Task.FromResult(gauge.Collect() is { } v && v >= Backdating.TotalSeconds ? v : (double?)null),
                "the gauge to show the over-age DEK");
            // Several failed runs later: no new DEK could be made, so the old ones stay active rather than none, and the host runs on.
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.Equal(overAge.Order(), (await db.QueryAsync<int>("SELECT id FROM documents.deks WHERE retired_at IS NULL")).Order());
            using var client = host.CreateClient();
            Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("/alive")).StatusCode);
        }
        finally
        {
            await fixture.Resources.StartAsync("vault", CancellationToken.None);
        }
        await Eventually.WaitForValueAsync(() => Task.FromResult(gauge.Collect() is { } v && v < 3600 ? v : (double?)null),
            "the schedule to replace the DEKs once the key service is back", TimeSpan.FromSeconds(60));
    }

    private WebApplicationFactory<documentservice::Program> Host(string? maxAge) =>
        new WebApplicationFactory<documentservice::Program>().WithWebHostBuilder(builder =>
        {
            foreach (var (key, value) in fixture.Settings) builder.UseSetting(key, value);
            builder.UseEnvironment("Development");
            builder.UseSetting("DocumentService:DekRotation:Interval", "00:00:01");
            if (maxAge is not null) builder.UseSetting("DocumentService:DekRotation:MaxAge", maxAge);
        });
}
