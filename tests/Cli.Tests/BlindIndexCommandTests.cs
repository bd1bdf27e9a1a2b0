using System.Text.Json;

namespace Pii.Cli.Tests;

public class BlindIndexCommandTests
{
    [Fact]
    public async Task Matches_the_python_computed_indexes()
    {
        foreach (JsonElement vector in PiiProcess.VectorSection("blind_index"))
        {
            PiiProcess.Result result = await PiiProcess.RunAsync(vector.GetProperty("value").GetString()! + "\n",
                "blind-index", "--key-hex", vector.GetProperty("index_key").GetString()!,
                "--column", $"{vector.GetProperty("table").GetString()}.{vector.GetProperty("column").GetString()}",
                "--kind", vector.GetProperty("kind").GetString()!);
            Assert.Equal((0, vector.GetProperty("index").GetString()), (result.ExitCode, result.Output));
        }
    }

    [Theory]
    [InlineData("415 555 0100", "--kind", "phone", "--column", "t.phone")]
    [InlineData("078-05-112", "--kind", "ssn", "--column", "t.ssn")]
    [InlineData("a@b.c", "--kind", "iban", "--column", "t.c")]
    [InlineData("a@b.c", "--kind", "email", "--column", "nodot")]
    [InlineData("a@b.c", "--kind", "email")]
    public async Task Values_that_cannot_be_normalized_and_bad_flags_are_exit_2(string stdin, params string[] flags)
    {
        PiiProcess.Result result = await PiiProcess.RunAsync(stdin, ["blind-index", "--key-hex", new string('a', 64), .. flags]);
        Assert.Equal(2, result.ExitCode);
        Assert.Empty(result.Stdout);
        Assert.DoesNotContain(stdin, result.Stderr, StringComparison.Ordinal);
    }
}

public class RootCommandTests
{
    [Fact]
    public async Task Help_is_exit_0_and_an_unknown_verb_is_exit_2()
    {
        PiiProcess.Result help = await PiiProcess.RunAsync("", "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("keywrap", help.Stdout, StringComparison.Ordinal);
        Assert.Contains("blind-index", help.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, (await PiiProcess.RunAsync("", "frobnicate")).ExitCode);
    }
}
