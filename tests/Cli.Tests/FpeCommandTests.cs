namespace Pii.Cli.Tests;

public class FpeCommandTests
{
    private const string Key256 = "2b7e151628aed2a6abf7158809cf4f3cef4359d8d580aa4f7f036d6f04fc6a94";

    /// <summary>NIST FF1 samples 7-9 (the AES-256 ones, FF1samples.pdf).</summary>
    [Theory]
    [InlineData(null, 10, "0123456789", "6657667009")]
    [InlineData("39383736353433323130", 10, "0123456789", "1001623463")]
    [InlineData("3737373770717273373737", 36, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd")]
    public async Task Nist_aes256_samples_encrypt_and_decrypt(string? tweak, int radix, string plaintext, string ciphertext)
    {
        string[] tweakArgs = tweak is null ? [] : ["--tweak-hex", tweak];
        string radixText = radix.ToString(System.Globalization.CultureInfo.InvariantCulture);
        PiiProcess.Result encrypt = await PiiProcess.RunAsync(plaintext + "\n", ["fpe", "encrypt", "--key-hex", Key256, .. tweakArgs, "--radix", radixText]);
        Assert.Equal((0, ciphertext + "\n"), (encrypt.ExitCode, encrypt.Stdout));
        PiiProcess.Result decrypt = await PiiProcess.RunAsync(ciphertext, ["fpe", "decrypt", "--key-hex", Key256, .. tweakArgs, "--radix", radixText]);
        Assert.Equal((0, plaintext), (decrypt.ExitCode, decrypt.Output));
    }

    [Fact]
    public async Task Binary_and_hex_radixes_round_trip()
    {
        PiiProcess.Result bits = await PiiProcess.RunAsync("10110011100011110000", "fpe", "encrypt", "--key-hex", Key256, "--radix", "2");
        Assert.Equal(0, bits.ExitCode);
        Assert.Matches("^[01]{20}$", bits.Output);
        PiiProcess.Result back = await PiiProcess.RunAsync(bits.Output, "fpe", "decrypt", "--key-hex", Key256, "--radix", "2");
        Assert.Equal("10110011100011110000", back.Output);
    }

    [Theory]
    [InlineData("012345678a", "--radix", "10")]                   // a character outside the radix
    [InlineData("0123456789A", "--radix", "36")]                  // upper case is not in 0-9a-z
    [InlineData("01234", "--radix", "10")]                        // shorter than FF1's minimum for radix 10
    [InlineData("0123456789", "--radix", "37")]                   // beyond the 0-9a-z alphabet
    [InlineData("0123456789", "--radix", "1")]
    [InlineData("0123456789", "--radix", "ten")]
    [InlineData("0123456789")]                                    // --radix missing
    [InlineData("0123456789", "--radix", "10", "--tweak-hex", "zz")]
    public async Task Usage_errors_are_exit_2(string stdin, params string[] args)
    {
        PiiProcess.Result result = await PiiProcess.RunAsync(stdin, ["fpe", "encrypt", "--key-hex", Key256, .. args]);
        Assert.Equal(2, result.ExitCode);
        Assert.Empty(result.Stdout);
        Assert.DoesNotContain(stdin, result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2b7e151628aed2a6abf7158809cf4f3c")]                  // AES-128: the CLI is AES-256 only
    [InlineData("2b7e151628aed2a6abf7158809cf4f3cef4359d8d580aa4g")]  // not hex
    public async Task Keys_other_than_32_hex_bytes_are_exit_2(string key)
    {
        PiiProcess.Result result = await PiiProcess.RunAsync("0123456789", "fpe", "encrypt", "--key-hex", key, "--radix", "10");
        Assert.Equal(2, result.ExitCode);
        Assert.DoesNotContain(key, result.Stderr, StringComparison.Ordinal);
    }
}
