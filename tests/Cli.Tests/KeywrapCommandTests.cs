namespace Pii.Cli.Tests;

public class KeywrapCommandTests
{
    private const string Kek128 = "000102030405060708090A0B0C0D0E0F";
    private const string Kek192 = "000102030405060708090A0B0C0D0E0F1011121314151617";
    private const string Kek256 = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";

    [Theory]
    [InlineData(Kek128, "00112233445566778899AABBCCDDEEFF", "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5")]
    [InlineData(Kek192, "00112233445566778899AABBCCDDEEFF", "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D")]
    [InlineData(Kek256, "00112233445566778899AABBCCDDEEFF", "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7")]
    [InlineData(Kek192, "00112233445566778899AABBCCDDEEFF0001020304050607", "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2")]
    [InlineData(Kek256, "00112233445566778899AABBCCDDEEFF0001020304050607", "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1")]
    [InlineData(Kek256, "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F", "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21")]
    public async Task Rfc3394_vectors_wrap_and_unwrap(string kek, string key, string wrapped)
    {
        PiiProcess.Result wrap = await PiiProcess.RunAsync(key + "\n", "keywrap", "wrap", "--kek-hex", kek);
        Assert.Equal(0, wrap.ExitCode);
        Assert.Equal(wrapped.ToLowerInvariant(), wrap.Output);

        PiiProcess.Result unwrap = await PiiProcess.RunAsync(wrapped, "keywrap", "unwrap", "--kek-hex", kek);
        Assert.Equal(0, unwrap.ExitCode);
        Assert.Equal(key.ToLowerInvariant(), unwrap.Output);
    }

    [Theory]
    [InlineData("c37b7e6492584340bed12207808941155068f738", "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")]
    [InlineData("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f")]
    public async Task Rfc5649_vectors_with_pad(string key, string wrapped)
    {
        const string kek = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8";
        PiiProcess.Result wrap = await PiiProcess.RunAsync(key, "keywrap", "wrap", "--kek-hex", kek, "--pad");
        Assert.Equal((0, wrapped), (wrap.ExitCode, wrap.Output));
        PiiProcess.Result unwrap = await PiiProcess.RunAsync(wrapped, "keywrap", "unwrap", "--kek-hex", kek, "--pad");
        Assert.Equal((0, key), (unwrap.ExitCode, unwrap.Output));
    }

    [Fact]
    public async Task Tampered_or_wrong_variant_is_exit_1_without_output()
    {
        PiiProcess.Result tampered = await PiiProcess.RunAsync("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE6", "keywrap", "unwrap", "--kek-hex", Kek128);
        Assert.Equal(1, tampered.ExitCode);
        Assert.Empty(tampered.Stdout);
        Assert.NotEmpty(tampered.Stderr);

        PiiProcess.Result wrongVariant = await PiiProcess.RunAsync("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5", "keywrap", "unwrap", "--kek-hex", Kek128, "--pad");
        Assert.Equal(1, wrongVariant.ExitCode);
    }

    [Theory]
    [InlineData("00112233445566778899AABBCCDDEEFF", "wrap")]                 // missing --kek-hex
    [InlineData("0011223344556677", "wrap", "--kek-hex", Kek128)]           // too short for RFC 3394
    [InlineData("not hex at all", "wrap", "--kek-hex", Kek128)]
    [InlineData("00112233445566778899AABBCCDDEEFF", "wrap", "--kek-hex", "0011")]
    [InlineData("00112233445566778899AABBCCDDEEFF", "wrap", "--kek-hex", "zz")]
    [InlineData("00112233", "unwrap", "--kek-hex", Kek128)]
    [InlineData("00112233445566778899AABBCCDDEEFF", "rewrap", "--kek-hex", Kek128)]
    public async Task Usage_and_input_errors_are_exit_2(string stdin, params string[] args)
    {
        PiiProcess.Result result = await PiiProcess.RunAsync(stdin, ["keywrap", .. args]);
        Assert.Equal(2, result.ExitCode);
        Assert.Empty(result.Stdout);
        Assert.NotEmpty(result.Stderr);
    }

    [Fact]
    public async Task Errors_never_echo_the_key()
    {
        const string secret = "DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF";
        PiiProcess.Result badLength = await PiiProcess.RunAsync("00112233445566778899AABBCCDDEEFF", "keywrap", "wrap", "--kek-hex", secret);
        PiiProcess.Result misspelled = await PiiProcess.RunAsync("00112233445566778899AABBCCDDEEFF", "keywrap", "wrap", "--kek", secret);
        Assert.Equal((2, 2), (badLength.ExitCode, misspelled.ExitCode));
        Assert.DoesNotContain(secret, badLength.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(secret, misspelled.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("DEADBEEF", misspelled.Stderr, StringComparison.OrdinalIgnoreCase);
    }
}
