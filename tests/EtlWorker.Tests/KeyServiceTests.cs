using System.Text.Json.Nodes;
using Pii.Crypto;
using Pii.Crypto.Keys;
using Pii.Crypto.Transit;
using Pii.EtlWorker.Etl;

namespace Pii.EtlWorker.Tests;

/// <summary>The worker's identity in the key service, and how it talks to it.</summary>
[Collection(EtlServers.Name)]
public sealed class KeyServiceTests(EtlFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("transit/encrypt/dnc", "plaintext")]
    [InlineData("transit/datakey/plaintext/dnc", "bits")]
    [InlineData("transit/datakey/wrapped/dnc", "bits")]
    [InlineData("transit/encrypt/suppression-index", "plaintext")]
    [InlineData("transit/hmac/dnc/sha2-512", "input")]
    public async Task Etl_token_may_not_encrypt_make_keys_or_hmac_with_the_dnc_key_beyond_the_intake_index(string path, string field)
    {
        var body = new JsonObject { [field] = field == "bits" ? 256 : "AAAA" };
        Assert.Equal(403, (await fixture.VaultAsync(path, body, fixture.EtlToken)).Status);
    }

    [Fact]
    public async Task Etl_token_encrypt_through_the_client_is_a_typed_403()
    {
        using var http = new HttpClient();
        var client = new TransitClient(http, new TransitClientOptions { Address = new Uri(fixture.VaultAddress + "/"), Token = fixture.EtlToken, MaxRetries = 0 });
        var denied = await Assert.ThrowsAsync<TransitForbiddenException>(() => client.EncryptAsync("dnc", new byte[32]));
        Assert.Equal(403, denied.StatusCode);
    }

    [Fact]
    public async Task Cold_cache_unwraps_all_deks_of_a_batch_in_one_call_then_serves_them_from_the_cache()
    {
        var keys = new List<Pii.Crypto.Fields.FieldKey>();
        var writer = new SourceWriter(fixture.SourceAdminConnectionString);
        for (var i = 0; i < 3; i++)
        {
            keys.Add(await fixture.CreateDekAsync());
            await writer.InsertAsync(keys[^1], [TestContact.Next(), TestContact.Next()]);
        }

        var calls = new List<string>();
        using var http = new HttpClient(new CountingHandler(calls));
        var options = new TransitClientOptions { Address = new Uri(fixture.VaultAddress + "/"), Token = fixture.EtlToken };
        var kek = new BatchUnwrapKek(new TransitClient(http, options), "dnc");
        var reader = new SourceReader(fixture.SourceDataSource);
        var store = new SourceDekStore(reader);
        using var deks = new DekManager(kek, store, new DekPolicy { CacheCapacity = 8 });
        var decryptor = new RowDecryptor(deks, kek, store);
        var rows = await reader.ReadPreferencesAsync(Watermark.Start, 100, TimeSpan.Zero, default);

        var outcomes = await decryptor.DecryptAsync(rows, includeNames: true, default);
        Assert.Equal(6, outcomes.Count(o => o.Contact is { FirstName: "Alice", LastName: "Doe" }));
        Assert.Equal(["/v1/transit/decrypt/dnc"], calls);
        Assert.Equal(3, deks.CachedKeyCount);

        await decryptor.DecryptAsync(rows, includeNames: false, default);
        Assert.Single(calls);
        foreach (var key in keys) key.Dispose();
    }

    [Fact]
    public async Task Key_service_down_fails_the_batch_without_quarantining_anything()
    {
        using var key = await fixture.CreateDekAsync();
        await new SourceWriter(fixture.SourceAdminConnectionString).InsertAsync(key, [TestContact.Next()]);
        using var http = new HttpClient();
        // A port nobody listens on: connection refused, a real fault of the key service's reachability.
        var options = new TransitClientOptions { Address = new Uri("http://127.0.0.1:9/"), Token = fixture.EtlToken, MaxRetries = 0 };
        var kek = new BatchUnwrapKek(new TransitClient(http, options), "dnc");
        var reader = new SourceReader(fixture.SourceDataSource);
        var store = new SourceDekStore(reader);
        using var deks = new DekManager(kek, store);
        var rows = await reader.ReadPreferencesAsync(Watermark.Start, 100, TimeSpan.Zero, default);

        var failure = await Assert.ThrowsAnyAsync<Exception>(() => new RowDecryptor(deks, kek, store).DecryptAsync(rows, false, default));
        Assert.IsNotAssignableFrom<CryptoException>(failure);
    }

    private sealed class CountingHandler(List<string> calls) : DelegatingHandler(new HttpClientHandler())
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            lock (calls) calls.Add(request.RequestUri!.AbsolutePath);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
