using System.Security.Cryptography;
using Pii.Crypto.Keys;

namespace Pii.Crypto.Tests;

public class LocalKekTests
{
    private static readonly string KeyV1Hex = Convert.ToHexString(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly string KeyV2Base64 = Convert.ToBase64String(Enumerable.Range(50, 32).Select(i => (byte)i).ToArray());

    [Fact]
    public async Task Wraps_in_the_local_text_form_and_unwraps()
    {
        using LocalKek kek = LocalKek.FromText("dnc", KeyV1Hex);
        GeneratedDek generated = await kek.GenerateDataKeyAsync();
        Assert.Equal(32, generated.Plaintext.Length);
        Assert.Equal(("dnc", 1), (generated.Wrapped.KekName, generated.Wrapped.KekVersion));
        Assert.StartsWith("local:v1:", generated.Wrapped.Ciphertext, StringComparison.Ordinal);
        Assert.Equal(generated.Plaintext, await kek.UnwrapAsync(generated.Wrapped));
    }

    [Fact]
    public async Task Newest_version_wraps_older_versions_still_unwrap_and_rewrap_moves_to_the_newest()
    {
        using LocalKek v1 = LocalKek.FromText("dnc", "v1=" + KeyV1Hex);
        using LocalKek both = LocalKek.FromText("dnc", $"v1={KeyV1Hex}\nv2={KeyV2Base64}");
        using LocalKek v2Only = LocalKek.FromText("dnc", $"v2={KeyV2Base64}");
        Assert.Equal(2, both.CurrentVersion);

        GeneratedDek old = await v1.GenerateDataKeyAsync();
        Assert.Equal(old.Plaintext, await both.UnwrapAsync(old.Wrapped));
        await Assert.ThrowsAsync<UnknownKeyException>(() => v2Only.UnwrapAsync(old.Wrapped));

        WrappedDek rewrapped = await both.RewrapAsync(old.Wrapped);
        Assert.Equal(2, rewrapped.KekVersion);
        Assert.StartsWith("local:v2:", rewrapped.Ciphertext, StringComparison.Ordinal);
        Assert.Equal(old.Plaintext, await v2Only.UnwrapAsync(rewrapped));
    }

    [Fact]
    public async Task Tampered_foreign_or_malformed_wrapped_keys_are_typed_errors()
    {
        using LocalKek kek = LocalKek.FromText("dnc", KeyV1Hex);
        WrappedDek wrapped = (await kek.GenerateDataKeyAsync()).Wrapped;
        byte[] raw = Convert.FromBase64String(wrapped.Ciphertext["local:v1:".Length..]);
        raw[5] ^= 1;
        await Assert.ThrowsAsync<TamperedException>(() => kek.UnwrapAsync(wrapped with { Ciphertext = "local:v1:" + Convert.ToBase64String(raw) }));
        await Assert.ThrowsAsync<UnknownKeyException>(() => kek.UnwrapAsync(wrapped with { KekName = "documents" }));
        await Assert.ThrowsAsync<MalformedInputException>(() => kek.UnwrapAsync(wrapped with { Ciphertext = "vault:v1:abc" }));
        await Assert.ThrowsAsync<MalformedInputException>(() => kek.UnwrapAsync(wrapped with { Ciphertext = "local:v1:%%%" }));
        await Assert.ThrowsAsync<MalformedInputException>(() => kek.UnwrapAsync(wrapped with { KekVersion = 2 }));
    }

    [Theory]
    [InlineData("")]
    [InlineData("abcd")]
    [InlineData("v1=00")]
    [InlineData("v0=0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000,0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("v1=0000000000000000000000000000000000000000000000000000000000000000;v1=0000000000000000000000000000000000000000000000000000000000000000")]
    public void Bad_keyring_text_is_rejected_without_quoting_it(string text)
    {
        var e = Assert.ThrowsAny<CryptoException>(() => LocalKek.FromText("dnc", text));
        Assert.DoesNotContain("0000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Loads_from_the_environment_or_a_file_named_by_it()
    {
        string path = Path.Combine(Path.GetTempPath(), $"pii-kek-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(path, $"v3={KeyV1Hex}\n");
        try
        {
            Environment.SetEnvironmentVariable(LocalKek.EnvironmentVariable, null);
            Environment.SetEnvironmentVariable(LocalKek.FileEnvironmentVariable, path);
            using LocalKek fromFile = LocalKek.FromEnvironment("dnc");
            Assert.Equal(3, fromFile.CurrentVersion);

            Environment.SetEnvironmentVariable(LocalKek.EnvironmentVariable, "v4=" + KeyV2Base64);
            using LocalKek fromVariable = LocalKek.FromEnvironment("dnc");
            Assert.Equal(4, fromVariable.CurrentVersion);
        }
        finally
        {
            Environment.SetEnvironmentVariable(LocalKek.EnvironmentVariable, null);
            Environment.SetEnvironmentVariable(LocalKek.FileEnvironmentVariable, null);
            File.Delete(path);
        }
    }

    [Fact]
    public void A_bare_base64_key_that_starts_with_v_and_ends_with_padding_is_version_1()
    {
        byte[] key = new byte[32];
        key[0] = 0xBD; // base64 starts with 'v'
        string text = Convert.ToBase64String(key);
        Assert.StartsWith("v", text, StringComparison.Ordinal);
        using LocalKek kek = LocalKek.FromText("dnc", text);
        Assert.Equal(1, kek.CurrentVersion);
        CryptographicOperations.ZeroMemory(key);
    }
}
