using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Pii.Testing;

namespace Pii.FormApi.Tests;

/// <summary>The back office's scheduled DEK age policy (FormApi:DekRotation) and its gauge, against MariaDB and the key service.</summary>
[Collection(FormApiGroup.Name)]
public sealed class DekRotationScheduleTests(FormApiFixture fixture)
{
    private const string Gauge = "formapi.dek.oldest_active_age_seconds";
    private static readonly TimeSpan Backdating = TimeSpan.FromDays(40);

    [Fact]
    public async Task The_schedule_retires_an_over_age_DEK_the_intake_replaces_it_and_the_gauge_reports_the_oldest_age()
    {
        var earlier = await fixture.SubmitAsync(FormApiFixture.SeedBody(FormApiFixture.UniquePhone()));
        await using var owner = await fixture.OpenOwnerAsync();
        var overAge = (await owner.QueryAsync<int>("SELECT id FROM encryption_keys WHERE retired_at IS NULL AND destroyed_at IS NULL")).ToList();
        Assert.NotEmpty(overAge);
        await owner.ExecuteAsync("UPDATE encryption_keys SET created_at = created_at - INTERVAL 40 DAY WHERE id IN @overAge", new { overAge });

        // Under a longer MaxAge the schedule leaves them active, and the gauge shows how old the oldest is.
        using (var lenient = fixture.CreateBackoffice(Schedule(maxAge: "60.00:00:00")))
        using (var gauge = new ObservedGauge(lenient.Services, Gauge))
        {
            var age = await Eventually.WaitForValueAsync(() => Task.FromResult(gauge.Collect()), "the gauge's first value");
            Assert.InRange(age, Backdating.TotalSeconds, (Backdating + TimeSpan.FromHours(1)).TotalSeconds);
            Assert.Equal(overAge.Count, await ActiveCountAsync(owner, overAge));
        }

        // Under the default MaxAge (30 days) the next run retires them and logs each retirement.
        using var backoffice = fixture.CreateBackoffice(Schedule(maxAge: null));
        using var fresh = new ObservedGauge(backoffice.Services, Gauge);
        await Eventually.WaitForValueAsync(async () => await ActiveCountAsync(owner, overAge) == 0 ? true : (bool?)null, "the over-age DEKs to be retired");
        Assert.Equal(overAge.Count, await owner.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM pii_access_log WHERE action = 'retire-dek' AND actor_role = 'scheduler' AND fields IN @names",
            new { names = overAge.Select(d => $"dek:{d}").ToList() }));

        // The intake's DEK was among them: its guarded INSERT refuses it, and it stores the row under a DEK of its own making now.
        var later = await fixture.SubmitAsync(FormApiFixture.SeedBody(FormApiFixture.UniquePhone()));
        var (dek, createdAt) = await owner.QueryFirstAsync<(int, DateTime)>(
            "SELECT k.id, k.created_at FROM dnc_preferences p JOIN encryption_keys k ON k.id = p.dek_id WHERE p.id = @id", new { id = later.ToByteArray(bigEndian: true) });
        Assert.DoesNotContain(dek, overAge);
        Assert.True(DateTime.UtcNow - createdAt < TimeSpan.FromMinutes(10));
        var youngest = await Eventually.WaitForValueAsync(() => Task.FromResult(fresh.Collect() is { } v && v < 3600 ? v : (double?)null), "the gauge to drop below an hour");
        Assert.True(youngest >= 0);

        // Rows under a retired DEK still decrypt.
        using var supervisor = backoffice.CreateClient();
        supervisor.DefaultRequestHeaders.Add("X-Api-Key", fixture.ApiKeys["supervisor"]);
        var record = await supervisor.GetFromJsonAsync<JsonElement>($"/api/dnc/{earlier}?reveal=true&reason=age%20policy%20check");
        Assert.Equal("Alice", record.GetProperty("first_name").GetString());
    }

    private static Dictionary<string, string> Schedule(string? maxAge)
    {
        var settings = new Dictionary<string, string> { ["FormApi:ReencryptionInBackground"] = "false", ["FormApi:DekRotation:Interval"] = "00:00:01" };
        if (maxAge is not null)
        {
            settings["FormApi:DekRotation:MaxAge"] = maxAge;
        }
        return settings;
    }

    private static Task<long> ActiveCountAsync(MySqlConnector.MySqlConnection owner, List<int> ids) =>
        owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM encryption_keys WHERE id IN @ids AND retired_at IS NULL", new { ids });
}
