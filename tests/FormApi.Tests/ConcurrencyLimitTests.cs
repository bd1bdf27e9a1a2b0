using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;

namespace Pii.FormApi.Tests;

/// <summary>
/// <c>FormApi:MaxConcurrentSubmissions</c> over real sockets: while the limit's worth of submissions are in progress
/// (their bodies held back mid-send), every further one is refused with a 429 problem, and afterwards every accepted
/// submission is stored whole and nothing else is.
/// </summary>
[Collection(FormApiGroup.Name)]
public sealed class ConcurrencyLimitTests(FormApiFixture fixture)
{
    private const int Limit = 3;

    [Fact]
    public async Task Submissions_past_the_concurrency_limit_get_429_problems_and_rows_accepted_equal_rows_stored()
    {
        var port = RateLimitingTests.FreePort();
        using var intake = fixture.CreateIntake(new Dictionary<string, string> { ["FormApi:MaxConcurrentSubmissions"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture) }, port);
        intake.StartServer();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        var before = await StoredRowsAsync();
        var accepted = new List<Guid>();

        var held = Enumerable.Range(0, Limit).Select(_ => new HeldBody(FormApiFixture.SeedBody(FormApiFixture.UniquePhone()))).ToList();
        var holders = held.Select(body => client.PostAsync("/api/dnc", body)).ToList();
        await Task.WhenAll(held.Select(body => body.Started));
        await Task.Delay(500);
        // Until the held submissions have all reached the endpoint, a probe still gets through (and counts as accepted).
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var probe = await client.PostAsync("/api/dnc", FormApiFixture.Json(FormApiFixture.SeedBody(FormApiFixture.UniquePhone())));
            if (probe.StatusCode == HttpStatusCode.TooManyRequests) break;
            accepted.Add(await CreatedIdAsync(probe));
            Assert.True(DateTime.UtcNow < deadline, "the held submissions never filled the concurrency limit");
            await Task.Delay(50);
        }

        var burst = await Task.WhenAll(Enumerable.Range(0, 40).Select(async _ =>
        {
            using var response = await client.PostAsync("/api/dnc", FormApiFixture.Json(FormApiFixture.SeedBody(FormApiFixture.UniquePhone())));
            return (response.StatusCode, response.Headers.RetryAfter, response.Content.Headers.ContentType?.MediaType,
                Problem: await response.Content.ReadFromJsonAsync<JsonElement>());
        }));
        Assert.All(burst, answer =>
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, answer.StatusCode);
            Assert.NotNull(answer.RetryAfter);
            Assert.Equal("application/problem+json", answer.MediaType);
            Assert.Equal(429, answer.Problem.GetProperty("status").GetInt32());
            Assert.Contains("Too many submissions", answer.Problem.GetProperty("title").GetString(), StringComparison.Ordinal);
        });

        foreach (var body in held) body.Release();
        foreach (var holder in holders)
        {
            using var response = await holder;
            accepted.Add(await CreatedIdAsync(response));
        }
        // The permits came back: the next submission is accepted.
        using (var after = await client.PostAsync("/api/dnc", FormApiFixture.Json(FormApiFixture.SeedBody(FormApiFixture.UniquePhone()))))
        {
            accepted.Add(await CreatedIdAsync(after));
        }

        Assert.Equal(before + accepted.Count, await StoredRowsAsync());
        using var agent = fixture.BackofficeClient("agent");
        foreach (var id in accepted)
        {
            using var read = await agent.GetAsync($"/api/dnc/{id}");
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }
    }

    private static async Task<Guid> CreatedIdAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private async Task<long> StoredRowsAsync()
    {
        await using var owner = await fixture.OpenOwnerAsync();
        return await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM dnc_preferences");
    }

    /// <summary>A JSON body whose first bytes are sent at once and the rest only after <see cref="Release"/>.</summary>
    private sealed class HeldBody : HttpContent
    {
        private readonly byte[] _body;
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public HeldBody(string json)
        {
            _body = Encoding.UTF8.GetBytes(json);
            Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        /// <summary>Completes once the headers and the first bytes are on the wire.</summary>
        public Task Started => _started.Task;

        public void Release() => _release.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(_body.AsMemory(0, 10));
            await stream.FlushAsync();
            _started.TrySetResult();
            await _release.Task;
            await stream.WriteAsync(_body.AsMemory(10));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _body.Length;
            return true;
        }
    }
}
