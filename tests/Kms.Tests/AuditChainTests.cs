using System.Text;
using Pii.Crypto.Audit;

namespace Pii.Kms.Tests;

/// <summary>The chain format in Crypto/Audit: tampering of every kind is found and located.</summary>
public sealed class AuditChainTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("audit-chain-").FullName;

    private string WriteLog(int lines)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".log");
        using var writer = new AuditChainWriter(path);
        for (var i = 0; i < lines; i++)
        {
            writer.Append(Encoding.UTF8.GetBytes($$"""{"n":{{i}},"type":"request"}"""));
        }

        return path;
    }

    private static AuditVerification Verify(IEnumerable<string> lines) =>
        AuditChain.Verify(new MemoryStream(Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l + "\n")))));

    [Fact]
    public void First_line_chains_to_genesis_and_each_line_to_the_previous_hash()
    {
        var lines = File.ReadAllLines(WriteLog(3));
        Assert.Equal($$"""{"prev_hash":"{{AuditChain.GenesisHash}}","n":0,"type":"request"}""", lines[0]);
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(lines[0])));
        Assert.StartsWith($$"""{"prev_hash":"{{expected}}",""", lines[1], StringComparison.Ordinal);
        var result = Verify(lines);
        Assert.True(result.Ok);
        Assert.Equal(3, result.LinesVerified);
    }

    [Fact]
    public void Edit_delete_insert_and_reorder_are_detected_at_the_right_line()
    {
        var lines = File.ReadAllLines(WriteLog(6));

        var edited = lines.ToArray();
        edited[2] = edited[2].Replace("\"n\":2", "\"n\":7", StringComparison.Ordinal);
        Assert.Equal(4, Verify(edited).FirstBadLine);

        var deleted = lines.Where((_, i) => i != 3).ToArray();
        Assert.Equal(4, Verify(deleted).FirstBadLine);

        var reordered = lines.ToArray();
        (reordered[1], reordered[2]) = (reordered[2], reordered[1]);
        Assert.Equal(2, Verify(reordered).FirstBadLine);

        var inserted = lines.Take(2).Append(lines[0]).Concat(lines.Skip(2)).ToArray();
        Assert.Equal(3, Verify(inserted).FirstBadLine);

        var garbage = lines.ToArray();
        garbage[4] = "not json";
        Assert.Equal(5, Verify(garbage).FirstBadLine);

        var firstRemoved = lines.Skip(1).ToArray();
        Assert.Equal(1, Verify(firstRemoved).FirstBadLine);
    }

    [Fact]
    public void Torn_tail_is_reported_and_the_writer_resumes_the_chain_after_cutting_it()
    {
        var path = WriteLog(3);
        File.AppendAllText(path, "{\"prev_hash\":\"abc");
        var torn = AuditChain.Verify(File.OpenRead(path));
        Assert.True(torn.Ok);
        Assert.True(torn.TornTail);
        Assert.Equal(3, torn.LinesVerified);

        using (var writer = new AuditChainWriter(path))
        {
            writer.Append("{\"n\":3}"u8);
        }

        using var stream = File.OpenRead(path);
        var resumed = AuditChain.Verify(stream);
        Assert.True(resumed.Ok);
        Assert.False(resumed.TornTail);
        Assert.Equal(4, resumed.LinesVerified);
    }

    [Fact]
    public void Cli_verify_prints_the_line_count_or_the_first_bad_line_with_exit_codes_0_and_1()
    {
        var path = WriteLog(5);
        using var output = new StringWriter();
        using var error = new StringWriter();
        Assert.Equal(0, Pii.Cli.Commands.AuditCommands.Verify(new FileInfo(path), output, error));
        Assert.Contains("5 lines", output.ToString(), StringComparison.Ordinal);

        var lines = File.ReadAllLines(path);
        lines[1] = lines[1].Replace("\"n\":1", "\"n\":9", StringComparison.Ordinal);
        File.WriteAllLines(path, lines);
        using var output2 = new StringWriter();
        using var error2 = new StringWriter();
        Assert.Equal(1, Pii.Cli.Commands.AuditCommands.Verify(new FileInfo(path), output2, error2));
        Assert.Contains("line 3", error2.ToString(), StringComparison.Ordinal);

        var parsed = Pii.Cli.Commands.AuditCommands.Create().Parse(["verify", path]);
        Assert.Empty(parsed.Errors);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
