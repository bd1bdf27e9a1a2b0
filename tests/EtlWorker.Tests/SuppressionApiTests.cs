using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Pii.EtlWorker.Apis;
using Pii.Services.Shared;

namespace Pii.EtlWorker.Tests;

[Collection(EtlServers.Name)]
public sealed class SuppressionApiTests(EtlFixture fixture) : IAsyncLifetime, IDisposable
{
    private readonly TestContact _phoneDnc = TestContact.Next(phoneDnc: true, emailDnc: false);
    private readonly TestContact _emailDnc = TestContact.Next(phoneDnc: false, emailDnc: true);
    private readonly WorkerFactory _worker = new(fixture);

    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        using var key = await fixture.CreateDekAsync();
        await new SourceWriter(fixture.SourceAdminConnectionString).InsertAsync(key, [_phoneDnc, _emailDnc]);
        _client = _worker.CreateClient();
        await _worker.Store.MigrateAsync(default);
        await _worker.Pass.RunAsync(null, default);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose()
    {
        _client?.Dispose();
        _worker.Dispose();
    }

    [Fact]
    public async Task Dialer_gets_answers_by_phone_and_email_in_any_spelling()
    {
        var spaced = _phoneDnc.Phone[..2] + " " + _phoneDnc.Phone[2..5] + "-" + _phoneDnc.Phone[5..];
        Assert.Equal(new SuppressionAnswer(false, "phone_dnc"), await CheckAsync("phone", _phoneDnc.Phone));
        Assert.Equal(new SuppressionAnswer(false, "phone_dnc"), await CheckAsync("phone", spaced));
        Assert.Equal(new SuppressionAnswer(false, "email_dnc"), await CheckAsync("email", " " + _emailDnc.Email.ToUpperInvariant()));
        Assert.Equal(new SuppressionAnswer(true, null), await CheckAsync("phone", _emailDnc.Phone));
        Assert.Equal(new SuppressionAnswer(true, null), await CheckAsync("email", _phoneDnc.Email));
        Assert.Equal(new SuppressionAnswer(true, null), await CheckAsync("phone", "+4915112345678"));

        var body = await (await SendAsync($"phone={Uri.EscapeDataString(_phoneDnc.Phone)}", WorkerFactory.DialerKey)).Content.ReadAsStringAsync();
        Assert.Equal("{\"contact\":false,\"reason\":\"phone_dnc\"}", body);
    }

    [Fact]
    public async Task A_contact_whose_stored_preference_cannot_be_read_is_refused_not_allowed()
    {
        // Stored as the intake would (its own blind indexes), with a tampered phone cell: the ETL quarantines the row.
        var intake = await _worker.Services.GetRequiredService<DncBlindIndexProvider>().GetAsync(default);
        var unreadable = TestContact.Next(phoneDnc: true, emailDnc: true);
        using var key = await fixture.CreateDekAsync();
        await new SourceWriter(fixture.SourceAdminConnectionString, intake).InsertAsync(key, [unreadable], (c, column) =>
        {
            if (column != "phone") return null;
            var ciphertext = SourceWriter.Encrypt(key, column, c.Id, c.Phone);
            ciphertext[^1] ^= 0x01;
            return ciphertext;
        });
        await _worker.Pass.RunAsync(null, default);
        Assert.Equal("tampered", (await Target.QuarantineAsync(fixture))[unreadable.Id]);

        // Nobody can tell whether this person asked not to be called: the list fails closed for their phone and email.
        Assert.Equal(new SuppressionAnswer(false, "unreadable_preference"), await CheckAsync("phone", unreadable.Phone));
        Assert.Equal(new SuppressionAnswer(false, "unreadable_preference"), await CheckAsync("email", unreadable.Email.ToUpperInvariant()));
        Assert.Equal(new SuppressionAnswer(true, null), await CheckAsync("phone", "+4915112345678"));
        Assert.Equal(new SuppressionAnswer(false, "phone_dnc"), await CheckAsync("phone", _phoneDnc.Phone));
    }

    [Theory]
    [InlineData("phone=555-0100", "phone")]
    [InlineData("phone=%2B1abc", "phone")]
    [InlineData("email=not-an-address", "email")]
    [InlineData("email=a%40b%40c", "email")]
    [InlineData("", "query")]
    [InlineData("phone=%2B15551234567&email=a%40example.com", "query")]
    public async Task Unparseable_input_is_a_400_problem_naming_the_field(string query, string field)
    {
        using var response = await SendAsync(query, WorkerFactory.DialerKey);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(field, problem["field"]!.GetValue<string>());
        // The problem never echoes the value (the trace id is random hex, so it is left out of the search).
        problem.AsObject().Remove("traceId");
        foreach (var value in Uri.UnescapeDataString(query).Split('&').Select(p => p[(p.IndexOf('=', StringComparison.Ordinal) + 1)..]).Where(v => v.Length > 0))
        {
            Assert.DoesNotContain(value, problem.ToJsonString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Missing_or_wrong_key_is_401_and_another_role_is_403()
    {
        var query = $"phone={Uri.EscapeDataString(_phoneDnc.Phone)}";
        using var none = await SendAsync(query, null);
        using var wrong = await SendAsync(query, WorkerFactory.DialerKey + "x");
        using var auditor = await SendAsync(query, WorkerFactory.AuditorKey);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, auditor.StatusCode);
        Assert.Equal("application/problem+json", auditor.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Health_is_served_and_no_contact_value_reaches_the_logs()
    {
        using var health = await _client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        await CheckAsync("phone", _phoneDnc.Phone);
        await CheckAsync("email", _emailDnc.Email);
        await SendAsync("phone=%2B1abc555", WorkerFactory.DialerKey);
        var logs = string.Join('\n', _worker.Logs);
        Assert.Contains("api/suppression/check", logs, StringComparison.Ordinal);
        foreach (var contact in new[] { _phoneDnc, _emailDnc })
        {
            Assert.DoesNotContain(contact.Phone[2..], logs, StringComparison.Ordinal);
            Assert.DoesNotContain(contact.Email, logs, StringComparison.OrdinalIgnoreCase);
        }
    }

    private async Task<SuppressionAnswer> CheckAsync(string field, string value)
    {
        using var response = await SendAsync($"{field}={Uri.EscapeDataString(value)}", WorkerFactory.DialerKey);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<SuppressionAnswer>())!;
    }

    private async Task<HttpResponseMessage> SendAsync(string query, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/suppression/check?" + query, UriKind.Relative));
        if (key is not null) request.Headers.Add("X-Api-Key", key);
        return await _client.SendAsync(request);
    }
}
