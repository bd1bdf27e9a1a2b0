using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;

namespace Pii.FormApi.Tests;

[Collection(FormApiGroup.Name)]
public sealed class BackofficeTests(FormApiFixture fixture)
{
    [Fact]
    public async Task Agent_reads_a_masked_record_with_its_row_version_as_ETag()
    {
        var id = await fixture.SubmitAsync(FormApiFixture.SeedBody());
        using var agent = fixture.BackofficeClient("agent");
        using var response = await agent.GetAsync($"/api/dnc/{id}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("\"1\"", response.Headers.ETag?.Tag);
        var record = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("A***", record.GetProperty("first_name").GetString());
        Assert.Equal("M***", record.GetProperty("middle_name").GetString());
        Assert.Equal("D***", record.GetProperty("last_name").GetString());
        Assert.Equal("+1******4567", record.GetProperty("phone").GetString());
        Assert.Equal("a***@example.com", record.GetProperty("email").GetString());
        Assert.True(record.GetProperty("phone_dnc").GetBoolean());
        Assert.False(record.GetProperty("email_dnc").GetBoolean());
        Assert.True(record.GetProperty("masked").GetBoolean());
    }

    [Fact]
    public async Task Supervisor_reveals_with_a_reason_that_goes_to_the_access_log()
    {
        var id = await fixture.SubmitAsync(FormApiFixture.SeedBody());
        using var supervisor = fixture.BackofficeClient("supervisor");
        var record = await supervisor.GetFromJsonAsync<JsonElement>($"/api/dnc/{id}?reveal=true&reason=ticket%20DNC-42");
        Assert.Equal("Alice", record.GetProperty("first_name").GetString());
        Assert.Equal("+15551234567", record.GetProperty("phone").GetString());
        Assert.Equal("alice@example.com", record.GetProperty("email").GetString());
        Assert.False(record.GetProperty("masked").GetBoolean());

        using var auditor = fixture.BackofficeClient("auditor");
        var entries = await auditor.GetFromJsonAsync<JsonElement[]>($"/api/audit?record_id={id}");
        var reveal = Assert.Single(entries!, e => e.GetProperty("action").GetString() == "reveal");
        Assert.Equal("supervisor", reveal.GetProperty("actor_role").GetString());
        Assert.Equal("ticket DNC-42", reveal.GetProperty("reason").GetString());
        Assert.Equal("first_name,middle_name,last_name,phone,email", reveal.GetProperty("fields").GetString());
        Assert.Equal(16, reveal.GetProperty("actor_key").GetString()!.Length);
    }

    [Fact]
    public async Task Reveal_needs_a_reason_and_the_supervisor_role()
    {
        var id = await fixture.SubmitAsync(FormApiFixture.SeedBody());
        using var supervisor = fixture.BackofficeClient("supervisor");
        using var noReason = await supervisor.GetAsync($"/api/dnc/{id}?reveal=true");
        Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        Assert.True((await noReason.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("reason", out _));

        using var agent = fixture.BackofficeClient("agent");
        using var denied = await agent.GetAsync($"/api/dnc/{id}?reveal=true&reason=curious");
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        Assert.DoesNotContain("Alice", await denied.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var auditor = fixture.BackofficeClient("auditor");
        var entries = await auditor.GetFromJsonAsync<JsonElement[]>($"/api/audit?record_id={id}");
        Assert.Contains(entries!, e => e.GetProperty("action").GetString() == "denied" && e.GetProperty("actor_role").GetString() == "agent");
    }

    [Fact]
    public async Task Lookup_by_phone_or_email_goes_through_the_blind_index()
    {
        var phone = FormApiFixture.UniquePhone();
        var email = $"Lookup.{Guid.NewGuid():N}@Example.com";
        var id = await fixture.SubmitAsync(FormApiFixture.SeedBody(phone, email));
        using var agent = fixture.BackofficeClient("agent");

        var formatted = Uri.EscapeDataString($"{phone[..2]} {phone[2..5]}-{phone[5..8]}-{phone[8..]}");
        var byPhone = await agent.GetFromJsonAsync<JsonElement[]>($"/api/dnc/lookup?phone={formatted}");
        var found = Assert.Single(byPhone!);
        Assert.Equal(id, found.GetProperty("id").GetGuid());
        Assert.EndsWith(phone[^4..], found.GetProperty("phone").GetString(), StringComparison.Ordinal);
        Assert.Contains("***", found.GetProperty("phone").GetString(), StringComparison.Ordinal);

        var byEmail = await agent.GetFromJsonAsync<JsonElement[]>($"/api/dnc/lookup?email={Uri.EscapeDataString(email.ToUpperInvariant())}");
        Assert.Equal(id, Assert.Single(byEmail!).GetProperty("id").GetGuid());

        Assert.Empty((await agent.GetFromJsonAsync<JsonElement[]>($"/api/dnc/lookup?phone={Uri.EscapeDataString(FormApiFixture.UniquePhone())}"))!);
        using var both = await agent.GetAsync($"/api/dnc/lookup?phone={formatted}&email=a%40b.c");
        Assert.Equal(HttpStatusCode.BadRequest, both.StatusCode);
        using var bad = await agent.GetAsync("/api/dnc/lookup?phone=12345");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        // The lookup is an index seek, not a table scan.
        await using var owner = await fixture.OpenOwnerAsync();
        var plan = (IDictionary<string, object>)await owner.QueryFirstAsync("EXPLAIN SELECT id FROM dnc_preferences WHERE phone_bidx = @b", new { b = new byte[16] });
        Assert.Equal("ix_phone_bidx", plan["key"]);
    }

    [Fact]
    public async Task Patch_toggles_preferences_with_optimistic_concurrency()
    {
        var id = await fixture.SubmitAsync(FormApiFixture.SeedBody());
        using var agent = fixture.BackofficeClient("agent");

        using var missing = await agent.PatchAsync($"/api/dnc/{id}", FormApiFixture.Json("""{"email_dnc":true}"""));
        Assert.Equal(HttpStatusCode.PreconditionRequired, missing.StatusCode);

        var first = new HttpRequestMessage(HttpMethod.Patch, $"/api/dnc/{id}") { Content = FormApiFixture.Json("""{"email_dnc":true}""") };
        first.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
        using var ok = await agent.SendAsync(first);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("\"2\"", ok.Headers.ETag?.Tag);

        var stale = new HttpRequestMessage(HttpMethod.Patch, $"/api/dnc/{id}") { Content = FormApiFixture.Json("""{"phone_dnc":false}""") };
        stale.Headers.TryAddWithoutValidation("If-Match", "\"1\"");
        using var conflict = await agent.SendAsync(stale);
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Equal(2, (await conflict.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("current_row_version").GetInt32());

        var strict = new HttpRequestMessage(HttpMethod.Patch, $"/api/dnc/{id}") { Content = FormApiFixture.Json("""{"phone_dnc":"no"}""") };
        strict.Headers.TryAddWithoutValidation("If-Match", "\"2\"");
        using var invalid = await agent.SendAsync(strict);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);

        var record = await agent.GetFromJsonAsync<JsonElement>($"/api/dnc/{id}");
        Assert.True(record.GetProperty("email_dnc").GetBoolean());
        Assert.True(record.GetProperty("phone_dnc").GetBoolean());
        Assert.Equal(2, record.GetProperty("row_version").GetInt32());
    }

    [Fact]
    public async Task Delete_erases_the_row_and_records_only_that_an_erasure_happened()
    {
        var id = await fixture.SubmitAsync(FormApiFixture.SeedBody());
        using var agent = fixture.BackofficeClient("agent");
        using var agentDelete = await agent.DeleteAsync($"/api/dnc/{id}");
        Assert.Equal(HttpStatusCode.Forbidden, agentDelete.StatusCode);

        using var supervisor = fixture.BackofficeClient("supervisor");
        using var deleted = await supervisor.DeleteAsync($"/api/dnc/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var again = await supervisor.DeleteAsync($"/api/dnc/{id}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        using var read = await agent.GetAsync($"/api/dnc/{id}");
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);

        await using var owner = await fixture.OpenOwnerAsync();
        var key = id.ToByteArray(bigEndian: true);
        Assert.Equal(0, await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM dnc_preferences WHERE id = @key", new { key }));
        Assert.Equal(1, await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM dnc_erasures WHERE id = @key", new { key }));
        Assert.Equal(1, await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pii_access_log WHERE record_id = @key AND action = 'erase' AND outcome = 'ok'", new { key }));
    }

    [Theory]
    [InlineData(null, "GET", "/api/dnc/{id}", HttpStatusCode.Unauthorized)]
    [InlineData("wrong", "GET", "/api/dnc/{id}", HttpStatusCode.Unauthorized)]
    [InlineData("auditor", "GET", "/api/dnc/{id}", HttpStatusCode.Forbidden)]
    [InlineData("admin", "GET", "/api/dnc/{id}", HttpStatusCode.Forbidden)]
    [InlineData("agent", "GET", "/api/audit", HttpStatusCode.Forbidden)]
    [InlineData("supervisor", "GET", "/api/audit", HttpStatusCode.Forbidden)]
    [InlineData("agent", "POST", "/api/keys/rotate-kek", HttpStatusCode.Forbidden)]
    [InlineData("supervisor", "POST", "/api/keys/rotate-dek", HttpStatusCode.Forbidden)]
    [InlineData("auditor", "POST", "/api/keys/deks/1/destroy", HttpStatusCode.Forbidden)]
    public async Task Wrong_or_missing_keys_are_refused_and_refusals_are_audited(string? role, string method, string path, HttpStatusCode expected)
    {
        var id = await fixture.SubmitAsync(FormApiFixture.SeedBody());
        using var client = fixture.BackofficeClient(null);
        if (role is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", fixture.ApiKeys.TryGetValue(role, out var key) ? key : "pii_not_a_key");
        }
        await using var owner = await fixture.OpenOwnerAsync();
        var before = await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pii_access_log WHERE action = 'denied'");

        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path.Replace("{id}", id.ToString(), StringComparison.Ordinal)));
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);

        var after = await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM pii_access_log WHERE action = 'denied'");
        Assert.Equal(expected == HttpStatusCode.Forbidden ? before + 1 : before, after);
    }

    [Fact]
    public async Task The_access_log_never_holds_a_field_value()
    {
        var phone = FormApiFixture.UniquePhone();
        var id = await fixture.SubmitAsync(FormApiFixture.SeedBody(phone, "Ottoline.Audit@example.com", "Ottoline"));
        using var supervisor = fixture.BackofficeClient("supervisor");
        (await supervisor.GetAsync($"/api/dnc/{id}?reveal=true&reason=audit%20check")).EnsureSuccessStatusCode();
        (await supervisor.GetAsync($"/api/dnc/lookup?phone={Uri.EscapeDataString(phone)}")).EnsureSuccessStatusCode();

        await using var owner = await fixture.OpenOwnerAsync();
        var text = string.Join("\n", await owner.QueryAsync<string>(
            "SELECT CONCAT_WS('|', actor_role, actor_key, action, fields, COALESCE(reason, ''), outcome, COALESCE(client_ip, '')) FROM pii_access_log"));
        Assert.DoesNotContain("Ottoline", text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(phone[2..], text, StringComparison.Ordinal);
        Assert.DoesNotContain("example.com", text, StringComparison.Ordinal);
    }
}
