using Pii.Crypto.Fpe;

namespace Pii.Crypto.Tests.Fpe;

public sealed class FpeProfileTests : IDisposable
{
    private readonly Ff1 _key = new(Enumerable.Range(0, 32).Select(i => (byte)(i * 7)).ToArray());

    public void Dispose() => _key.Dispose();

    [Theory]
    [InlineData("078-05-1120", @"^\d{3}-\d{2}-\d{4}$")]
    [InlineData("078051120", @"^\d{9}$")]
    [InlineData("000-00-0000", @"^\d{3}-\d{2}-\d{4}$")]
    [InlineData("999999999", @"^\d{9}$")]
    public void Ssn_keeps_nine_digits_and_the_shape(string ssn, string shape)
    {
        string token = FpeProfile.Ssn.Encrypt(_key, ssn, "patients", "ssn");
        Assert.Matches(shape, token);
        Assert.NotEqual(ssn, token);
        Assert.Equal(ssn, FpeProfile.Ssn.Decrypt(_key, token, "patients", "ssn"));
    }

    [Fact]
    public void Ssn_tokens_are_deterministic_per_column_and_differ_between_columns()
    {
        string token = FpeProfile.Ssn.Encrypt(_key, "078-05-1120", "patients", "ssn");
        Assert.Equal(token, FpeProfile.Ssn.Encrypt(_key, "078-05-1120", "patients", "ssn"));
        Assert.NotEqual(token, FpeProfile.Ssn.Encrypt(_key, "078-05-1120", "patients", "guarantor_ssn"));
        Assert.NotEqual(token, FpeProfile.Ssn.Encrypt(_key, "078-05-1120", "claims", "ssn"));
        // Dashed and undashed forms are the same nine digits under the same tweak.
        Assert.Equal(token.Replace("-", "", StringComparison.Ordinal), FpeProfile.Ssn.Encrypt(_key, "078051120", "patients", "ssn"));
        // A token moved to another column decrypts to a different (wrong) number: FPE has no integrity to catch it.
        Assert.NotEqual("078-05-1120", FpeProfile.Ssn.Decrypt(_key, token, "claims", "ssn"));
    }

    [Fact]
    public void Ssn_tweak_is_the_documented_layout()
    {
        Assert.Equal("pii-fpe/v1"u8.ToArray().Concat(new byte[] { 0, 8 }).Concat("patients"u8.ToArray()).Concat(new byte[] { 0, 3 }).Concat("ssn"u8.ToArray()),
            FpeProfile.Tweak("patients", "ssn"));
        string expected = FpeText.Encrypt(_key, FpeAlphabet.Digits, "078051120", FpeProfile.Tweak("patients", "ssn"));
        Assert.Equal(expected, FpeProfile.Ssn.Encrypt(_key, "078051120", "patients", "ssn"));
    }

    [Theory]
    [InlineData("07805112")]
    [InlineData("0780511200")]
    [InlineData("078-051120")]
    [InlineData("078 05 1120")]
    [InlineData("07a-05-1120")]
    [InlineData("078-05-112x")]
    [InlineData("")]
    public void Ssn_rejects_other_shapes(string value)
    {
        Assert.Throws<MalformedInputException>(() => FpeProfile.Ssn.Encrypt(_key, value, "patients", "ssn"));
    }

    [Fact]
    public void Alphabet_profile_encrypts_the_whole_value()
    {
        FpeProfile card = FpeProfile.ForAlphabet("card", FpeAlphabet.Digits);
        string token = card.Encrypt(_key, "4111111111111111", "payments", "pan");
        Assert.Matches(@"^\d{16}$", token);
        Assert.Equal("4111111111111111", card.Decrypt(_key, token, "payments", "pan"));
        Assert.Throws<MalformedInputException>(() => card.Encrypt(_key, "4111-1111", "payments", "pan"));
    }
}
