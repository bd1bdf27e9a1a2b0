using System.Text;
using System.Text.Json;

namespace Pii.Cli.Tests;

public class FieldCommandTests
{
    private const string Dek = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    [Theory]
    [InlineData("randomized", 30)]
    [InlineData("deterministic", 18)]
    public async Task Encrypt_then_decrypt_round_trips_with_the_documented_overhead(string mode, int overhead)
    {
        string plaintext = Convert.ToBase64String(Encoding.UTF8.GetBytes("alice@example.com"));
        string[] flags = ["--dek-hex", Dek, "--dek-id", "5", "--mode", mode, "--context", "dnc_preferences.email:42"];
        PiiProcess.Result encrypt = await PiiProcess.RunAsync(plaintext, ["field", "encrypt", .. flags]);
        Assert.Equal(0, encrypt.ExitCode);
        Assert.Equal("alice@example.com".Length + overhead, Convert.FromBase64String(encrypt.Output).Length);

        PiiProcess.Result decrypt = await PiiProcess.RunAsync(encrypt.Output, ["field", "decrypt", .. flags]);
        Assert.Equal((0, plaintext), (decrypt.ExitCode, decrypt.Output));
    }

    [Fact]
    public async Task Decrypts_the_python_built_field_vectors()
    {
        foreach (JsonElement vector in PiiProcess.VectorSection("field"))
        {
            string ciphertext = Convert.ToBase64String(Convert.FromHexString(vector.GetProperty("ciphertext").GetString()!));
            string context = $"{vector.GetProperty("table").GetString()}.{vector.GetProperty("column").GetString()}:{vector.GetProperty("record_id").GetString()}";
            PiiProcess.Result decrypt = await PiiProcess.RunAsync(ciphertext,
                "field", "decrypt", "--dek-hex", vector.GetProperty("dek").GetString()!, "--dek-id", vector.GetProperty("dek_id").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--mode", vector.GetProperty("mode").GetString()!, "--context", context);
            Assert.Equal(0, decrypt.ExitCode);
            Assert.Equal(Convert.ToBase64String(Convert.FromHexString(vector.GetProperty("plaintext").GetString()!)), decrypt.Output);
        }
    }

    [Theory]
    [InlineData("--context", "dnc_preferences.email:43")]
    [InlineData("--context", "dnc_preferences.phone:42")]
    [InlineData("--context", "suppression.email:42")]
    [InlineData("--dek-id", "6")]
    [InlineData("--dek-hex", "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")]
    public async Task Moved_or_wrong_key_ciphertext_is_exit_1(string flag, string value)
    {
        var flags = new Dictionary<string, string>
        {
            ["--dek-hex"] = Dek, ["--dek-id"] = "5", ["--mode"] = "deterministic", ["--context"] = "dnc_preferences.email:42",
        };
        PiiProcess.Result encrypt = await PiiProcess.RunAsync("aGVsbG8=", ["field", "encrypt", .. flags.SelectMany(f => new[] { f.Key, f.Value })]);
        flags[flag] = value;
        PiiProcess.Result decrypt = await PiiProcess.RunAsync(encrypt.Output, ["field", "decrypt", .. flags.SelectMany(f => new[] { f.Key, f.Value })]);
        Assert.Equal(1, decrypt.ExitCode);
        Assert.Empty(decrypt.Stdout);
    }

    [Fact]
    public async Task A_tampered_ciphertext_is_exit_1()
    {
        string[] flags = ["--dek-hex", Dek, "--dek-id", "5", "--mode", "randomized", "--context", "t.c:1"];
        PiiProcess.Result encrypt = await PiiProcess.RunAsync("aGVsbG8=", ["field", "encrypt", .. flags]);
        byte[] ciphertext = Convert.FromBase64String(encrypt.Output);
        ciphertext[^1] ^= 0x40;
        PiiProcess.Result decrypt = await PiiProcess.RunAsync(Convert.ToBase64String(ciphertext), ["field", "decrypt", .. flags]);
        Assert.Equal(1, decrypt.ExitCode);
        PiiProcess.Result truncated = await PiiProcess.RunAsync(Convert.ToBase64String(ciphertext.AsSpan(0, 10)), ["field", "decrypt", .. flags]);
        Assert.Equal(1, truncated.ExitCode);
    }

    [Theory]
    [InlineData("aGVsbG8=", "--dek-hex", "0011", "--dek-id", "5", "--mode", "randomized", "--context", "t.c:1")]
    [InlineData("aGVsbG8=", "--dek-hex", Dek, "--dek-id", "five", "--mode", "randomized", "--context", "t.c:1")]
    [InlineData("aGVsbG8=", "--dek-hex", Dek, "--dek-id", "-1", "--mode", "randomized", "--context", "t.c:1")]
    [InlineData("aGVsbG8=", "--dek-hex", Dek, "--dek-id", "5", "--mode", "fast", "--context", "t.c:1")]
    [InlineData("aGVsbG8=", "--dek-hex", Dek, "--dek-id", "5", "--mode", "randomized", "--context", "t:1")]
    [InlineData("not base64!", "--dek-hex", Dek, "--dek-id", "5", "--mode", "randomized", "--context", "t.c:1")]
    [InlineData("aGVsbG8=", "--dek-hex", Dek, "--dek-id", "5", "--mode", "randomized")]
    public async Task Usage_errors_are_exit_2(string stdin, params string[] flags)
    {
        PiiProcess.Result result = await PiiProcess.RunAsync(stdin, ["field", "encrypt", .. flags]);
        Assert.Equal(2, result.ExitCode);
        Assert.DoesNotContain(Dek, result.Stderr, StringComparison.OrdinalIgnoreCase);
    }
}

public class FieldCommandTamperTests
{
    [Theory]
    [InlineData("randomized")]
    [InlineData("deterministic")]
    public async Task Every_bit_flip_of_the_header_is_exit_1(string mode)
    {
        const string dek = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
        string[] flags = ["--dek-hex", dek, "--dek-id", "5", "--mode", mode, "--context", "t.c:1"];
        PiiProcess.Result encrypt = await PiiProcess.RunAsync("aGVsbG8=", ["field", "encrypt", .. flags]);
        byte[] ciphertext = Convert.FromBase64String(encrypt.Output);
        for (int bit = 0; bit < 2 * 8; bit++) // version/mode byte and the one-byte DEK id
        {
            byte[] tampered = (byte[])ciphertext.Clone();
            tampered[bit / 8] ^= (byte)(1 << (bit % 8));
            PiiProcess.Result decrypt = await PiiProcess.RunAsync(Convert.ToBase64String(tampered), ["field", "decrypt", .. flags]);
            Assert.Equal(1, decrypt.ExitCode);
            Assert.Empty(decrypt.Stdout);
        }
    }
}
