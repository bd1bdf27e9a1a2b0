using Pii.Crypto.Fields;
using Pii.Crypto.Fpe;
using Pii.Crypto.Keys;
using Pii.Crypto.Tiers;

namespace Pii.Crypto.Tests;

public sealed class TierTests : IDisposable
{
    private readonly LocalKek _kek = LocalKek.FromText("dnc", Convert.ToHexString(new byte[32].Select((_, i) => (byte)(i + 3)).ToArray()));
    private readonly InMemoryDekStore _store = new();
    private readonly FieldKey _applicationKey = FieldKey.FromDek(1, new byte[32].Select((_, i) => (byte)(200 - i)).ToArray());

    public void Dispose()
    {
        _kek.Dispose();
        _applicationKey.Dispose();
    }

    [Fact]
    public void A_pii_field_without_a_tier_is_a_startup_error()
    {
        PiiSchema.Builder builder = PiiSchema.CreateBuilder()
            .PiiField("dnc_preferences", "email", Tier.Two)
            .Pii("dnc_preferences", "phone");
        var e = Assert.Throws<InvalidOperationException>(builder.Build);
        Assert.Contains("dnc_preferences.phone has no tier", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pii_field_declared_clear_is_a_startup_error()
    {
        PiiSchema.Builder builder = PiiSchema.CreateBuilder().Pii("patients", "ssn").Field("patients", "ssn", Tier.One);
        Assert.Throws<InvalidOperationException>(builder.Build);
    }

    [Fact]
    public void A_valid_schema_answers_tiers_and_rejects_undeclared_columns_and_duplicates()
    {
        PiiSchema schema = PiiSchema.CreateBuilder()
            .Field("dnc_preferences", "created_at", Tier.One)
            .PiiField("dnc_preferences", "email", Tier.Two)
            .PiiField("patients", "ssn", Tier.Three)
            .Build();
        Assert.Equal(Tier.One, schema.TierOf("dnc_preferences", "created_at"));
        Assert.Equal(Tier.Three, schema.TierOf("patients", "ssn"));
        Assert.Throws<InvalidOperationException>(() => schema.TierOf("patients", "name"));
        Assert.Throws<InvalidOperationException>(() => PiiSchema.CreateBuilder().Field("t", "c", Tier.Two).Field("t", "c", Tier.Three));
    }

    [Fact]
    public async Task Tiers_one_two_three_store_clear_single_and_double_encrypted_values()
    {
        PiiSchema schema = PiiSchema.CreateBuilder()
            .Field("patients", "ward", Tier.One)
            .PiiField("patients", "email", Tier.Two)
            .PiiField("patients", "ssn", Tier.Three)
            .Build();
        using var deks = new DekManager(_kek, _store);
        var protector = new TieredFieldProtector(schema, deks, _applicationKey);
        var ward = new FieldContext("patients", "ward", "p1");
        var email = new FieldContext("patients", "email", "p1");
        var ssn = new FieldContext("patients", "ssn", "p1");
        byte[] plaintext = "078051120"u8.ToArray();

        Assert.Equal(plaintext, await protector.ProtectAsync("patients", FieldMode.Randomized, plaintext, ward));

        byte[] tier2 = (await protector.ProtectAsync("patients", FieldMode.Randomized, plaintext, email))!;
        Assert.Equal(plaintext, await deks.DecryptAsync(tier2, email));

        byte[] tier3 = (await protector.ProtectAsync("patients", FieldMode.Randomized, plaintext, ssn))!;
        Assert.Equal(plaintext, await protector.UnprotectAsync(tier3, ssn));
        // The key service's side alone (the DEK) yields only the inner ciphertext, not the value.
        byte[] inner = (await deks.DecryptAsync(tier3, ssn))!;
        Assert.NotEqual(plaintext, inner);
        Assert.Equal(_applicationKey.DekId, FieldCipher.ReadHeader(inner).DekId);
        // The application key alone cannot open the stored value.
        Assert.ThrowsAny<CryptoException>(() => FieldCipher.Decrypt(_applicationKey, tier3, ssn));
        Assert.Null(await protector.ProtectAsync("patients", FieldMode.Randomized, null, ssn));
    }

    [Fact]
    public void A_schema_with_tier_three_needs_an_application_key()
    {
        PiiSchema schema = PiiSchema.CreateBuilder().PiiField("patients", "ssn", Tier.Three).Build();
        using var deks = new DekManager(_kek, _store);
        Assert.Throws<InvalidOperationException>(() => new TieredFieldProtector(schema, deks, applicationKey: null));
    }

    [Fact]
    public async Task A_format_preserving_column_stores_an_ff1_token_in_the_values_shape()
    {
        PiiSchema schema = PiiSchema.CreateBuilder()
            .FpeField("claims", "member_ssn", FpeProfile.Ssn)
            .PiiField("claims", "email", Tier.Two)
            .Build();
        Assert.Equal(Tier.FormatPreserving, schema.TierOf("claims", "member_ssn"));
        using var deks = new DekManager(_kek, _store);
        using var fpeKey = new Ff1(new byte[32].Select((_, i) => (byte)(i * 5)).ToArray());
        var protector = new TieredFieldProtector(schema, deks, applicationKey: null, fpeKey);
        var row1 = new FieldContext("claims", "member_ssn", "c1");
        var row2 = new FieldContext("claims", "member_ssn", "c2");

        byte[] stored = (await protector.ProtectAsync("claims", FieldMode.Deterministic, "078-05-1120"u8.ToArray(), row1))!;
        string token = System.Text.Encoding.UTF8.GetString(stored);
        Assert.Matches(@"^\d{3}-\d{2}-\d{4}$", token);
        Assert.Equal(FpeProfile.Ssn.Encrypt(fpeKey, "078-05-1120", "claims", "member_ssn"), token);
        // Deterministic across rows: what lets a downstream system join on the token, and what it leaks.
        Assert.Equal(stored, await protector.ProtectAsync("claims", FieldMode.Deterministic, "078-05-1120"u8.ToArray(), row2));
        Assert.Equal("078-05-1120"u8.ToArray(), await protector.UnprotectAsync(stored, row2));
        Assert.Null(await protector.ProtectAsync("claims", FieldMode.Deterministic, null, row1));

        await Assert.ThrowsAsync<InvalidOperationException>(() => protector.ProtectAsync("claims", FieldMode.Randomized, "078051120"u8.ToArray(), row1));
        await Assert.ThrowsAsync<MalformedInputException>(() => protector.ProtectAsync("claims", FieldMode.Deterministic, "07805112"u8.ToArray(), row1));
        await Assert.ThrowsAsync<MalformedInputException>(() => protector.ProtectAsync("claims", FieldMode.Deterministic, [0xff, 0xfe, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30, 0x30], row1));
    }

    [Fact]
    public void A_format_preserving_column_needs_a_profile_and_an_fpe_key()
    {
        Assert.Throws<ArgumentException>(() => PiiSchema.CreateBuilder().Field("claims", "member_ssn", Tier.FormatPreserving));
        Assert.Throws<InvalidOperationException>(() => PiiSchema.CreateBuilder().PiiField("claims", "member_ssn", Tier.Two).FpeField("claims", "member_ssn", FpeProfile.Ssn));
        PiiSchema schema = PiiSchema.CreateBuilder().FpeField("claims", "member_ssn", FpeProfile.Ssn).Build();
        Assert.Throws<InvalidOperationException>(() => schema.FpeProfileOf("claims", "email"));
        using var deks = new DekManager(_kek, _store);
        Assert.Throws<InvalidOperationException>(() => new TieredFieldProtector(schema, deks, applicationKey: null));
    }
}
