using Pii.Crypto;
using Pii.Crypto.Keys;
using Pii.Crypto.Transit;

namespace Pii.Kms.Tests;

/// <summary>The Crypto transit client and TransitKek against the real key service.</summary>
public sealed class TransitClientTests(KmsServerFixture server) : IClassFixture<KmsServerFixture>
{
    /// <summary>Counts attempts on the wire (the server answers for real; nothing is faked).</summary>
    private sealed class CountingHandler : DelegatingHandler
    {
        public int Attempts;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Attempts);
            return base.SendAsync(request, cancellationToken);
        }
    }

    private TransitClient Client(string? token = null, CountingHandler? counter = null, KmsServerFixture? target = null)
    {
        target ??= server;
        var http = counter is null ? target.Factory.CreateClient() : target.Factory.CreateDefaultClient(counter);
        return new TransitClient(http, new TransitClientOptions
        {
            Address = target.Factory.Server.BaseAddress,
            Token = token ?? target.RootToken,
            RetryDelay = TimeSpan.FromMilliseconds(1),
            MaxRetries = 2,
        });
    }

    private async Task<string> NewKey()
    {
        var name = "c" + Guid.NewGuid().ToString("N")[..10];
        await Client().CreateKeyAsync(name);
        return name;
    }

    [Fact]
    public async Task Encrypt_decrypt_rewrap_hmac_and_key_info()
    {
        var client = Client();
        var key = await NewKey();
        var ct = await client.EncryptAsync(key, "hello"u8.ToArray());
        Assert.Equal(1, ct.KeyVersion);
        Assert.Equal("hello"u8.ToArray(), await client.DecryptAsync(key, ct.Ciphertext));
        Assert.Empty(await client.DecryptAsync(key, (await client.EncryptAsync(key, ReadOnlyMemory<byte>.Empty)).Ciphertext));
        await client.RotateKeyAsync(key);
        var info = await client.ReadKeyAsync(key);
        Assert.Equal(2, info.LatestVersion);
        var rewrapped = await client.RewrapAsync(key, ct.Ciphertext);
        Assert.Equal(2, rewrapped.KeyVersion);
        Assert.Equal("hello"u8.ToArray(), await client.DecryptAsync(key, rewrapped.Ciphertext));
        Assert.StartsWith("vault:v2:", await client.HmacAsync(key, "x"u8.ToArray()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Batch_calls_return_items_in_order_with_typed_item_errors()
    {
        var client = Client();
        var key = await NewKey();
        var encrypted = await client.EncryptBatchAsync(key, [new("a"u8.ToArray(), Reference: "first"), new("b"u8.ToArray())]);
        Assert.All(encrypted, r => Assert.Null(r.Error));
        Assert.Equal("first", encrypted[0].Reference);
        var tampered = encrypted[1].Value!.Ciphertext[..^4] + "AAA=";
        var decrypted = await client.DecryptBatchAsync(key, [encrypted[0].Value!.Ciphertext, tampered, "junk"]);
        Assert.Equal("a"u8.ToArray(), decrypted[0].Value);
        Assert.IsType<TamperedException>(decrypted[1].Error);
        Assert.IsType<MalformedInputException>(decrypted[2].Error);
        var rewrapped = await client.RewrapBatchAsync(key, [encrypted[0].Value!.Ciphertext]);
        Assert.Null(rewrapped[0].Error);
    }

    [Fact]
    public async Task Vault_errors_become_typed_exceptions()
    {
        var client = Client();
        var key = await NewKey();
        var ct = await client.EncryptAsync(key, "x"u8.ToArray());
        var bytes = Convert.FromBase64String(ct.Ciphertext["vault:v1:".Length..]);
        bytes[^1] ^= 0x80;
        await Assert.ThrowsAsync<TamperedException>(() => client.DecryptAsync(key, "vault:v1:" + Convert.ToBase64String(bytes)));
        await Assert.ThrowsAsync<MalformedInputException>(() => client.DecryptAsync(key, "vault:v1:!!"));
        await Assert.ThrowsAsync<TransitNotFoundException>(() => client.DecryptAsync("no-such-key", ct.Ciphertext));
        await Assert.ThrowsAsync<TransitNotFoundException>(() => client.ReadKeyAsync("no-such-key"));
        await Assert.ThrowsAsync<TransitForbiddenException>(() => Client(token: "hvs.nope").EncryptAsync(key, "x"u8.ToArray()));

        await client.RotateKeyAsync(key);
        await server.AsRoot("POST", $"transit/keys/{key}/config", new { min_decryption_version = 2 });
        await Assert.ThrowsAsync<UnknownKeyException>(() => client.DecryptAsync(key, ct.Ciphertext));
    }

    [Fact]
    public async Task Transient_failures_are_retried_and_user_errors_and_rotation_are_not()
    {
        using var sealedServer = new KmsServerFixture(withMasterKey: false, auditPath: null);
        var sealedCounter = new CountingHandler();
        var error = await Assert.ThrowsAsync<TransitServerException>(() => Client("t", sealedCounter, sealedServer).EncryptAsync("k", "x"u8.ToArray()));
        Assert.Equal(503, error.StatusCode);
        Assert.Equal(3, sealedCounter.Attempts);

        var rotateCounter = new CountingHandler();
        await Assert.ThrowsAsync<TransitServerException>(() => Client("t", rotateCounter, sealedServer).RotateKeyAsync("k"));
        Assert.Equal(1, rotateCounter.Attempts);

        var badCounter = new CountingHandler();
        var key = await NewKey();
        await Assert.ThrowsAsync<MalformedInputException>(() => Client(counter: badCounter).DecryptAsync(key, "vault:v1:@"));
        Assert.Equal(1, badCounter.Attempts);
    }

    [Fact]
    public async Task TransitKek_wraps_unwraps_and_rewraps_data_keys()
    {
        var key = await NewKey();
        var kek = new TransitKek(Client(), key);
        var generated = await kek.GenerateDataKeyAsync();
        Assert.Equal(32, generated.Plaintext.Length);
        Assert.Equal(key, generated.Wrapped.KekName);
        Assert.Equal(generated.Plaintext, await kek.UnwrapAsync(generated.Wrapped));

        var wrappedOnly = await kek.GenerateWrappedOnlyAsync();
        Assert.Equal(32, (await kek.UnwrapAsync(wrappedOnly)).Length);

        var local = new TransitKek(Client(), key, TransitDataKeySource.LocalThenEncrypt);
        var localDek = await local.GenerateDataKeyAsync();
        Assert.Equal(localDek.Plaintext, await kek.UnwrapAsync(localDek.Wrapped));

        await Client().RotateKeyAsync(key);
        var rewrapped = await kek.RewrapAsync(generated.Wrapped);
        Assert.Equal(2, rewrapped.KekVersion);
        Assert.Equal(generated.Plaintext, await kek.UnwrapAsync(rewrapped));

        await Assert.ThrowsAsync<UnknownKeyException>(() => kek.UnwrapAsync(generated.Wrapped with { KekName = "other" }));
    }

    [Fact]
    public async Task Intake_identity_can_make_deks_but_never_unwrap_them()
    {
        await server.AsRoot("POST", "transit/keys/dnc");
        var intake = new TransitKek(Client(await server.TokenWith("dnc-intake")), "dnc");
        var etl = new TransitKek(Client(await server.TokenWith("etl")), "dnc");
        var dek = await intake.GenerateDataKeyAsync();
        await Assert.ThrowsAsync<TransitForbiddenException>(() => intake.UnwrapAsync(dek.Wrapped));
        Assert.Equal(dek.Plaintext, await etl.UnwrapAsync(dek.Wrapped));
        await Assert.ThrowsAsync<TransitForbiddenException>(() => etl.GenerateDataKeyAsync());
    }

    [Fact]
    public void Token_file_is_read_when_no_token_is_given()
    {
        var file = Path.Combine(server.Root, "client-token");
        File.WriteAllText(file, "  hvs.fromfile\n");
        Assert.Equal("hvs.fromfile", new TransitClientOptions { TokenFile = file }.ResolveToken());
        Assert.Equal("direct", new TransitClientOptions { Token = "direct", TokenFile = file }.ResolveToken());
        Assert.Equal(7, TransitClient.VersionOf("vault:v7:AAAA"));
        Assert.IsAssignableFrom<IKeyEncryptionKey>(new TransitKek(Client(), "x"));
    }
}
