using System.Security.Cryptography;
using Pii.Crypto;
using Pii.Crypto.Streams;
using Pii.Crypto.Streams.Keyrings;
using Pii.Crypto.Transit;

namespace Pii.DocumentService.Tests;

/// <summary>The transit keyring against the real key service, with the service's own token (policy "documents").</summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class TransitKeyringTests(DocumentServiceFixture fixture) : IDisposable
{
    private readonly HttpClient _http = new();

    private TransitKeyring Keyring(string key = "documents") => new(new TransitClient(_http, new TransitClientOptions
    {
        Address = new Uri(fixture.Settings["VAULT_ADDR"]!.TrimEnd('/') + "/"),
        Token = fixture.Settings["VAULT_TOKEN"],
    }), key);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4096 * 3 + 1)]
    public async Task Round_trip_with_the_edk_layout_of_the_format(int size)
    {
        var plaintext = RandomNumberGenerator.GetBytes(size);
        var context = new Dictionary<string, string> { ["document"] = "d1", ["patient"] = "ü" };
        var ciphertext = new MemoryStream();
        await StreamEncryptor.EncryptAsync(new MemoryStream(plaintext), ciphertext, Keyring(), context, new StreamEncryptionOptions { FrameLength = 4096 });

        var generated = await Keyring().GenerateDataKeyAsync(context, CancellationToken.None);
        var edk = Assert.Single(generated.EncryptedDataKeys);
        Assert.Equal(TransitKeyring.ProviderId, edk.ProviderId);
        Assert.Equal("documents"u8.ToArray(), edk.ProviderInfo.ToArray());
        Assert.StartsWith("vault:v1:", System.Text.Encoding.UTF8.GetString(edk.Ciphertext.Span), StringComparison.Ordinal);
        generated.Dispose();

        var output = new MemoryStream();
        var read = await StreamDecryptor.DecryptAsync(new MemoryStream(ciphertext.ToArray()), output, Keyring());
        Assert.Equal(plaintext, output.ToArray());
        Assert.Equal("ü", read["patient"]);
    }

    [Fact]
    public async Task The_context_is_bound_into_the_wrap()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var edks = await Keyring().WrapDataKeyAsync(key, new Dictionary<string, string> { ["document"] = "a" }, CancellationToken.None);
        Assert.Equal(key, await Keyring().UnwrapDataKeyAsync(edks, new Dictionary<string, string> { ["document"] = "a" }, CancellationToken.None));
        Assert.Null(await Keyring().UnwrapDataKeyAsync(edks, new Dictionary<string, string> { ["document"] = "b" }, CancellationToken.None));
        Assert.Null(await Keyring().UnwrapDataKeyAsync(edks, new Dictionary<string, string>(), CancellationToken.None));
    }

    [Fact]
    public async Task Edks_of_other_providers_keys_or_tampered_are_not_opened()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var context = new Dictionary<string, string>();
        var edk = Assert.Single(await Keyring().WrapDataKeyAsync(key, context, CancellationToken.None));
        var text = System.Text.Encoding.UTF8.GetString(edk.Ciphertext.Span);
        var tampered = text[..^4] + (text[^4] == 'A' ? 'B' : 'A') + text[^3..];
        foreach (var other in new[]
        {
            new EncryptedDataKey("other", edk.ProviderInfo.ToArray(), edk.Ciphertext.ToArray()),
            new EncryptedDataKey(TransitKeyring.ProviderId, "dnc"u8.ToArray(), edk.Ciphertext.ToArray()),
            new EncryptedDataKey(TransitKeyring.ProviderId, edk.ProviderInfo.ToArray(), System.Text.Encoding.UTF8.GetBytes(tampered)),
            new EncryptedDataKey(TransitKeyring.ProviderId, edk.ProviderInfo.ToArray(), [0xff, 0xfe]),
        })
        {
            Assert.Null(await Keyring().UnwrapDataKeyAsync([other], context, CancellationToken.None));
        }
    }

    [Fact]
    public async Task A_recovery_rsa_key_opens_the_message_without_the_key_service()
    {
        using var rsa = RSA.Create(2048);
        using var recoveryPublic = RawRsaKeyring.FromPem("pii-recovery", "documents-recovery", rsa.ExportSubjectPublicKeyInfoPem(), null);
        var plaintext = RandomNumberGenerator.GetBytes(10_000);
        var ciphertext = new MemoryStream();
        await StreamEncryptor.EncryptAsync(new MemoryStream(plaintext), ciphertext, new MultiKeyring(Keyring(), recoveryPublic));

        using var recoveryPrivate = RawRsaKeyring.FromPem("pii-recovery", "documents-recovery", null, rsa.ExportPkcs8PrivateKeyPem());
        var output = new MemoryStream();
        await StreamDecryptor.DecryptAsync(new MemoryStream(ciphertext.ToArray()), output, recoveryPrivate);
        Assert.Equal(plaintext, output.ToArray());
    }

    [Fact]
    public async Task A_key_the_token_may_not_use_is_a_transit_error_not_a_silent_null()
    {
        await Assert.ThrowsAnyAsync<TransitException>(() => Keyring("dnc").GenerateDataKeyAsync(new Dictionary<string, string>(), CancellationToken.None));
        await Assert.ThrowsAsync<UnknownKeyException>(async () =>
        {
            var ciphertext = new MemoryStream();
            await StreamEncryptor.EncryptAsync(new MemoryStream([1]), ciphertext, Keyring());
            using var unrelated = new RawAesKeyring("ns", "k", RandomNumberGenerator.GetBytes(32));
            await StreamDecryptor.DecryptAsync(new MemoryStream(ciphertext.ToArray()), new MemoryStream(), unrelated);
        });
    }

    public void Dispose() => _http.Dispose();
}
