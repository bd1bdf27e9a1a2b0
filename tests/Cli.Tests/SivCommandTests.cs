using System.Text.Json;

namespace Pii.Cli.Tests;

public class SivCommandTests
{
    private const string A1Key = "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
    private const string A1Ad = "101112131415161718191a1b1c1d1e1f2021222324252627";
    private const string A1Plaintext = "112233445566778899aabbccddee";
    private const string A1Output = "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c";

    [Fact]
    public async Task Rfc5297_A1_encrypts_and_decrypts()
    {
        PiiProcess.Result encrypt = await PiiProcess.RunAsync(A1Plaintext, "siv", "encrypt", "--key-hex", A1Key, "--ad-hex", A1Ad);
        Assert.Equal((0, A1Output), (encrypt.ExitCode, encrypt.Output));
        PiiProcess.Result decrypt = await PiiProcess.RunAsync(A1Output, "siv", "decrypt", "--key-hex", A1Key, "--ad-hex", A1Ad);
        Assert.Equal((0, A1Plaintext), (decrypt.ExitCode, decrypt.Output));
    }

    [Fact]
    public async Task Rfc5297_A2_takes_the_associated_data_vector_in_order()
    {
        const string key = "7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f";
        string[] ad =
        [
            "--ad-hex", "00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100",
            "--ad-hex", "102030405060708090a0",
            "--ad-hex", "09f911029d74e35bd84156c5635688c0",
        ];
        const string plaintext = "7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e67205349562d414553";
        const string output = "7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d";
        PiiProcess.Result encrypt = await PiiProcess.RunAsync(plaintext, ["siv", "encrypt", "--key-hex", key, .. ad]);
        Assert.Equal((0, output), (encrypt.ExitCode, encrypt.Output));

        string[] swapped = [ad[0], ad[3], ad[2], ad[1], ad[4], ad[5]];
        PiiProcess.Result wrongOrder = await PiiProcess.RunAsync(output, ["siv", "decrypt", "--key-hex", key, .. swapped]);
        Assert.Equal(1, wrongOrder.ExitCode);
        Assert.Empty(wrongOrder.Stdout);
    }

    public static TheoryData<int> Siv512Vectors()
    {
        var data = new TheoryData<int>();
        int index = 0;
        foreach (JsonElement vector in PiiProcess.VectorSection("aes_siv"))
        {
            if (vector.GetProperty("key").GetString()!.Length == 128 && vector.GetProperty("plaintext").GetString()!.Length is 0 or 100 or 2000)
            {
                data.Add(index);
            }
            index++;
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Siv512Vectors))]
    public async Task Aes_siv_512_matches_python_cryptography(int index)
    {
        JsonElement vector = PiiProcess.VectorSection("aes_siv").ElementAt(index);
        string[] ad = [.. vector.GetProperty("ad").EnumerateArray().SelectMany(a => new[] { "--ad-hex", a.GetString()! })];
        string key = vector.GetProperty("key").GetString()!;
        PiiProcess.Result encrypt = await PiiProcess.RunAsync(vector.GetProperty("plaintext").GetString()!, ["siv", "encrypt", "--key-hex", key, .. ad]);
        Assert.Equal((0, vector.GetProperty("output").GetString()), (encrypt.ExitCode, encrypt.Output));
    }

    [Theory]
    [InlineData("85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5d")] // flipped bit
    [InlineData("85632d07c6e8f37f950acd320a2ecc")]                               // shorter than the SIV
    public async Task Tampered_input_is_exit_1(string input)
    {
        PiiProcess.Result result = await PiiProcess.RunAsync(input, "siv", "decrypt", "--key-hex", A1Key, "--ad-hex", A1Ad);
        Assert.Equal(1, result.ExitCode);
        Assert.Empty(result.Stdout);
    }

    [Theory]
    [InlineData("00", "encrypt", "--key-hex", "00112233")]
    [InlineData("00", "encrypt", "--key-hex", A1Key, "--ad-hex", "xyz")]
    [InlineData("0g", "encrypt", "--key-hex", A1Key)]
    [InlineData("00", "encrypt")]
    public async Task Usage_errors_are_exit_2(string stdin, params string[] args)
    {
        PiiProcess.Result result = await PiiProcess.RunAsync(stdin, ["siv", .. args]);
        Assert.Equal(2, result.ExitCode);
    }
}
