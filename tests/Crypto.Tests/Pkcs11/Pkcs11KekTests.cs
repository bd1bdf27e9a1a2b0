using System.Security.Cryptography;
using Net.Pkcs11Interop.Common;
using Pii.Crypto.Keys;
using Pii.Crypto.Pkcs11;
using Pii.Testing;

namespace Pii.Crypto.Tests.Pkcs11;

/// <summary>
/// One SoftHSM2 instance for this class, with its tokens made by softhsm2-util before the module is first loaded.
/// SOFTHSM2_CONF is process-wide and read by C_Initialize, so only this class talks to SoftHSM2 in this assembly.
/// </summary>
public sealed class SoftHsmFixture : IAsyncLifetime
{
    public const string TokenLabel = "pii-kek-tests";
    public const string OtherTokenLabel = "pii-kek-other";
    public const string UserPin = "4711-user";

    public SoftHsm Hsm { get; private set; } = null!;

    public string PinFile { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Hsm = await SoftHsm.CreateAsync();
        await Hsm.InitTokenAsync(TokenLabel, "so-0815", UserPin);
        await Hsm.InitTokenAsync(OtherTokenLabel, "so-0816", "other-user");
        Hsm.UseInThisProcess();
        PinFile = Path.Combine(Hsm.Directory, "user.pin");
        await File.WriteAllTextAsync(PinFile, UserPin + "\n");
        using var token = Pkcs11Token.Open(Options("kek-main"));
        token.GenerateAesKey("kek-main");
    }

    public Pkcs11Options Options(string keyLabel) => new()
    {
        LibraryPath = SoftHsm.LibraryPath,
        TokenLabel = TokenLabel,
        PinFile = PinFile,
        KeyLabel = keyLabel,
    };

    public Task DisposeAsync()
    {
        Hsm.Dispose();
        return Task.CompletedTask;
    }
}

public sealed class Pkcs11KekTests(SoftHsmFixture fixture) : IClassFixture<SoftHsmFixture>
{
    [Fact]
    public async Task Wraps_and_unwraps_inside_the_token()
    {
        using var kek = Pkcs11Kek.Open("dnc", fixture.Options("kek-main"));
        GeneratedDek generated = await kek.GenerateDataKeyAsync();
        Assert.StartsWith("pkcs11:v1:", generated.Wrapped.Ciphertext, StringComparison.Ordinal);
        Assert.Equal(("dnc", 1), (generated.Wrapped.KekName, generated.Wrapped.KekVersion));
        Assert.Equal(generated.Plaintext, await kek.UnwrapAsync(generated.Wrapped));

        WrappedDek rewrapped = await kek.RewrapAsync(generated.Wrapped);
        Assert.NotEqual(generated.Wrapped.Ciphertext, rewrapped.Ciphertext);
        Assert.Equal(generated.Plaintext, await kek.UnwrapAsync(rewrapped));

        byte[] odd = RandomNumberGenerator.GetBytes(45);
        Assert.Equal(odd, await kek.UnwrapAsync(await kek.WrapAsync(odd)));
    }

    [Fact]
    public async Task A_second_session_of_the_same_key_unwraps_what_the_first_wrapped()
    {
        WrappedDek wrapped;
        byte[] dek = RandomNumberGenerator.GetBytes(32);
        using (var first = Pkcs11Kek.Open("dnc", fixture.Options("kek-main")))
        {
            wrapped = await first.WrapAsync(dek);
        }
        using var second = Pkcs11Kek.Open("dnc", fixture.Options("kek-main"));
        Assert.Equal(dek, await second.UnwrapAsync(wrapped));
    }

    [Fact]
    public async Task Altered_or_misdirected_wrapped_keys_are_refused()
    {
        using var kek = Pkcs11Kek.Open("dnc", fixture.Options("kek-main"));
        using var otherName = Pkcs11Kek.Open("documents", fixture.Options("kek-main"));
        WrappedDek wrapped = await kek.WrapAsync(new byte[32]);
        byte[] bytes = Convert.FromBase64String(wrapped.Ciphertext["pkcs11:v1:".Length..]);
        bytes[^1] ^= 1;
        var altered = wrapped with { Ciphertext = "pkcs11:v1:" + Convert.ToBase64String(bytes) };
        await Assert.ThrowsAsync<TamperedException>(() => kek.UnwrapAsync(altered));
        // The KEK name is bound as AAD: the same token key under another name does not open it.
        await Assert.ThrowsAsync<TamperedException>(() => otherName.UnwrapAsync(wrapped with { KekName = "documents" }));
        await Assert.ThrowsAsync<UnknownKeyException>(() => kek.UnwrapAsync(wrapped with { KekName = "documents" }));
        await Assert.ThrowsAsync<MalformedInputException>(() => kek.UnwrapAsync(wrapped with { Ciphertext = "local:v1:AAAA" }));
    }

    [Fact]
    public async Task A_key_made_under_another_token_key_does_not_open()
    {
        using (var token = Pkcs11Token.Open(fixture.Options("kek-second")))
        {
            token.GenerateAesKey("kek-second");
        }
        using var main = Pkcs11Kek.Open("dnc", fixture.Options("kek-main"));
        using var second = Pkcs11Kek.Open("dnc", fixture.Options("kek-second"));
        await Assert.ThrowsAsync<TamperedException>(async () => await second.UnwrapAsync(await main.WrapAsync(new byte[32])));
    }

    [Fact]
    public void The_token_key_is_sensitive_and_not_extractable_and_an_extractable_one_is_refused()
    {
        using (var token = Pkcs11Token.Open(fixture.Options("kek-extractable")))
        {
            token.GenerateAesKey("kek-extractable", extractable: true);
        }
        var e = Assert.Throws<HsmException>(() => Pkcs11Kek.Open("dnc", fixture.Options("kek-extractable")));
        Assert.Equal(HsmFailure.KeyPolicy, e.Failure);
        Assert.Contains("extractable", e.Message, StringComparison.Ordinal);

        using var kek = Pkcs11Kek.Open("dnc", fixture.Options("kek-main"));
        Assert.Equal("dnc", kek.Name);
    }

    [Fact]
    public void Wrong_pin_is_a_pin_failure_and_never_echoes_the_pin()
    {
        string wrongPin = Path.Combine(fixture.Hsm.Directory, "wrong.pin");
        File.WriteAllText(wrongPin, "not-the-pin-1234");
        var e = Assert.Throws<HsmException>(() => Pkcs11Kek.Open("dnc", fixture.Options("kek-main") with { PinFile = wrongPin }));
        Assert.Equal(HsmFailure.Pin, e.Failure);
        Assert.Contains(nameof(CKR.CKR_PIN_INCORRECT), e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-pin-1234", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pin_from_the_environment_works_and_a_missing_pin_is_a_pin_failure()
    {
        string variable = "PII_TEST_HSM_PIN_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, SoftHsmFixture.UserPin);
        try
        {
            using var kek = Pkcs11Kek.Open("dnc", fixture.Options("kek-main") with { PinFile = null, PinEnvironmentVariable = variable });
            Assert.Equal("dnc", kek.Name);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
        var e = Assert.Throws<HsmException>(() => Pkcs11Kek.Open("dnc", fixture.Options("kek-main") with { PinFile = null, PinEnvironmentVariable = variable }));
        Assert.Equal(HsmFailure.Pin, e.Failure);
    }

    [Fact]
    public void Missing_token_missing_library_and_bad_options_are_told_apart()
    {
        var noToken = Assert.Throws<HsmException>(() => Pkcs11Kek.Open("dnc", fixture.Options("kek-main") with { TokenLabel = "no-such-token" }));
        Assert.Equal(HsmFailure.TokenNotFound, noToken.Failure);
        Assert.Contains("'no-such-token'", noToken.Message, StringComparison.Ordinal);

        var noSlot = Assert.Throws<HsmException>(() => Pkcs11Kek.Open("dnc", fixture.Options("kek-main") with { TokenLabel = null, SlotId = 987654321 }));
        Assert.Equal(HsmFailure.TokenNotFound, noSlot.Failure);

        var noLibrary = Assert.Throws<HsmException>(() => Pkcs11Kek.Open("dnc", fixture.Options("kek-main") with { LibraryPath = "/nonexistent/libpkcs11.so" }));
        Assert.Equal(HsmFailure.Library, noLibrary.Failure);

        var both = Assert.Throws<HsmException>(() => Pkcs11Kek.Open("dnc", fixture.Options("kek-main") with { SlotId = 0 }));
        Assert.Equal(HsmFailure.Configuration, both.Failure);
    }

    [Fact]
    public async Task A_removed_key_is_key_not_found_and_is_not_replaced()
    {
        using (var token = Pkcs11Token.Open(fixture.Options("kek-removed")))
        {
            token.GenerateAesKey("kek-removed");
        }
        using var kek = Pkcs11Kek.Open("dnc", fixture.Options("kek-removed"));
        WrappedDek wrapped = await kek.WrapAsync(new byte[32]);
        using (var token = Pkcs11Token.Open(fixture.Options("kek-removed")))
        {
            token.DestroyAesKeys("kek-removed");
        }

        var inUse = await Assert.ThrowsAsync<HsmException>(() => kek.UnwrapAsync(wrapped));
        Assert.Equal(HsmFailure.KeyNotFound, inUse.Failure);
        var atOpen = Assert.Throws<HsmException>(() => Pkcs11Kek.Open("dnc", fixture.Options("kek-removed")));
        Assert.Equal(HsmFailure.KeyNotFound, atOpen.Failure);
        Assert.Contains("'kek-removed'", atOpen.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_token_is_found_by_slot_id_too()
    {
        ulong slotId;
        using (var token = Pkcs11Token.Open(fixture.Options("kek-main")))
        {
            slotId = token.SlotId;
        }
        using var kek = Pkcs11Kek.Open("dnc", fixture.Options("kek-main") with { TokenLabel = null, SlotId = slotId });
        Assert.Equal("dnc", kek.Name);
    }
}
