using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Pii.EtlWorker.Tests;

/// <summary>
/// The dialer check when a dependency fails for real (issue 10, item 5): the key service stopped, or this worker's
/// token revoked in it. Each is a 503 problem with a stable type, never a 500, and /health names the failing part.
/// </summary>
[Collection(EtlServers.Name)]
public sealed class DependencyFailureTests(EtlFixture fixture) : IAsyncLifetime
{
    private const string DependencyUnavailableType = "urn:piiaspire:problem:dependency-unavailable";
    private readonly TestContact _contact = TestContact.Next(phoneDnc: true, emailDnc: false);

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        using var key = await fixture.CreateDekAsync();
        await new SourceWriter(fixture.SourceAdminConnectionString).InsertAsync(key, [_contact]);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Key_service_down_makes_the_dialer_check_a_503_and_the_worker_unhealthy()
    {
        using var worker = new WorkerFactory(fixture);
        using var client = await ReadyAsync(worker);
        await fixture.Resources.StopAsync("vault");
        try
        {
            await AssertUnavailableAsync(client, "unavailable");
            await AssertUnhealthyAsync(worker, client, "unreachable");
        }
        finally
        {
            await fixture.Resources.StartAsync("vault", CancellationToken.None);
        }
        Assert.Equal(HttpStatusCode.OK, (await CheckAsync(client)).StatusCode);
    }

    [Fact]
    public async Task A_revoked_token_makes_the_dialer_check_a_503_and_the_worker_unhealthy()
    {
        var (status, created) = await fixture.VaultAsync("auth/token/create",
            new JsonObject { ["policies"] = new JsonArray("etl"), ["no_default_policy"] = true }, fixture.RootToken);
        Assert.Equal(200, status);
        var token = created!["auth"]!["client_token"]!.GetValue<string>();
        using var worker = new WorkerFactory(fixture, ("VAULT_TOKEN", token));
        using var client = await ReadyAsync(worker);

        Assert.Equal(204, (await fixture.VaultAsync("auth/token/revoke", new JsonObject { ["token"] = token }, fixture.RootToken)).Status);
        var problem = await AssertUnavailableAsync(client, "token");
        Assert.DoesNotContain(token, problem.ToJsonString(), StringComparison.Ordinal);
        await AssertUnhealthyAsync(worker, client, "refused this service's token");
    }

    /// <summary>A worker that has loaded the list and answers the check.</summary>
    private static async Task<HttpClient> ReadyAsync(WorkerFactory worker)
    {
        var client = worker.CreateClient();
        await worker.Store.MigrateAsync(default);
        await worker.Pass.RunAsync(null, default);
        using (var health = await client.GetAsync(new Uri("/health", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }
        return client;
    }

    private Task<HttpResponseMessage> CheckAsync(HttpClient client)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/suppression/check?phone=" + Uri.EscapeDataString(_contact.Phone), UriKind.Relative));
        request.Headers.Add("X-Api-Key", WorkerFactory.DialerKey);
        return client.SendAsync(request);
    }

    private async Task<JsonObject> AssertUnavailableAsync(HttpClient client, string titleMentions)
    {
        using var response = await CheckAsync(client);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(DependencyUnavailableType, problem["type"]!.GetValue<string>());
        Assert.Contains(titleMentions, problem["title"]!.GetValue<string>(), StringComparison.Ordinal);
        return problem;
    }

    private static async Task AssertUnhealthyAsync(WorkerFactory worker, HttpClient client, string reason)
    {
        using (var health = await client.GetAsync(new Uri("/health", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        }
        var report = await worker.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        var vault = report.Entries["vault"];
        Assert.Equal(HealthStatus.Unhealthy, vault.Status);
        Assert.Contains(reason, vault.Description, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Healthy, report.Entries["mysql"].Status);
    }
}
