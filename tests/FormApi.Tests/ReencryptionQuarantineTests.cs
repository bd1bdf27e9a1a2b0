extern alias formapi;

using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using KeyOperations = formapi::Pii.FormApi.Keys.KeyOperations;
using ReencryptionJobs = formapi::Pii.FormApi.Keys.ReencryptionJobs;

namespace Pii.FormApi.Tests;

/// <summary>
/// One row that does not decrypt no longer stalls DEK re-encryption (issue 10, item 7): it is quarantined, reported in
/// the job status and a metric, the rest is moved, and its retired DEK is refused destruction with the reason.
/// </summary>
[Collection(FormApiGroup.Name)]
public sealed class ReencryptionQuarantineTests(FormApiFixture fixture)
{
    [Fact]
    public async Task An_undecryptable_row_is_quarantined_and_reported_and_every_other_row_moves()
    {
        var good = new List<Guid>();
        for (int i = 0; i < 4; i++)
        {
            good.Add(await fixture.SubmitAsync(FormApiFixture.SeedBody(FormApiFixture.UniquePhone())));
        }
        var bad = await fixture.SubmitAsync(FormApiFixture.SeedBody(FormApiFixture.UniquePhone()));
        await using var owner = await fixture.OpenOwnerAsync();
        var badKey = bad.ToByteArray(bigEndian: true);
        await owner.ExecuteAsync("UPDATE dnc_preferences SET email = CONCAT(LEFT(email, LENGTH(email) - 1), CHAR(ASCII(RIGHT(email, 1)) ^ 1)) WHERE id = @badKey", new { badKey });
        var badDek = await owner.ExecuteScalarAsync<int>("SELECT dek_id FROM dnc_preferences WHERE id = @badKey", new { badKey });

        long quarantinedMetric = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Pii.FormApi" && instrument.Name == "formapi.reencryption.quarantined") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref quarantinedMetric, value));
        listener.Start();
        try
        {
            // Stepped by hand on the fixture's back office (its background worker is off), batches of three rows.
            var rotation = await fixture.Backoffice.Services.GetRequiredService<KeyOperations>().RotateDekAsync(CancellationToken.None);
            var jobs = fixture.Backoffice.Services.GetRequiredService<ReencryptionJobs>();
            Assert.True(await jobs.RunAsync(rotation.JobId, maxBatches: null, CancellationToken.None));

            using var admin = fixture.BackofficeClient("admin");
            var job = await admin.GetFromJsonAsync<JsonElement>($"/api/keys/jobs/{rotation.JobId}");
            Assert.Equal("incomplete", job.GetProperty("status").GetString());
            Assert.Equal(0, job.GetProperty("rows_remaining").GetInt64());
            Assert.Equal(1, job.GetProperty("rows_quarantined").GetInt64());
            Assert.Equal([bad], job.GetProperty("quarantined_record_ids").EnumerateArray().Select(e => e.GetGuid()));
            Assert.True(job.GetProperty("rows_reencrypted").GetInt64() >= good.Count);
            Assert.Equal(1, Interlocked.Read(ref quarantinedMetric));
            Assert.Equal("tampered", await owner.ExecuteScalarAsync<string>(
                "SELECT reason FROM dek_reencryption_quarantine WHERE record_id = @badKey", new { badKey }));

            using var supervisor = fixture.BackofficeClient("supervisor");
            foreach (var id in good)
            {
                var record = await supervisor.GetFromJsonAsync<JsonElement>($"/api/dnc/{id}?reveal=true&reason=quarantine%20check");
                Assert.Equal("Alice", record.GetProperty("first_name").GetString());
                Assert.Equal(rotation.NewDekId, await owner.ExecuteScalarAsync<int>("SELECT dek_id FROM dnc_preferences WHERE id = @id", new { id = id.ToByteArray(bigEndian: true) }));
            }

            // The retired DEK still holds the quarantined row: destruction is refused and says why.
            using var destroy = await admin.PostAsync($"/api/keys/deks/{badDek}/destroy", null);
            Assert.Equal(HttpStatusCode.Conflict, destroy.StatusCode);
            var problem = await destroy.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(1, problem.GetProperty("rows_quarantined").GetInt64());
            Assert.Contains("quarantined", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
            Assert.NotEqual("", await owner.ExecuteScalarAsync<string>("SELECT wrapped_dek FROM encryption_keys WHERE id = @badDek", new { badDek }));
        }
        finally
        {
            // The suite shares one database: a row no key can read would be quarantined by every later DEK rotation.
            await owner.ExecuteAsync("DELETE FROM dnc_preferences WHERE id = @badKey", new { badKey });
        }
    }
}
