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

    [Fact]
    public void An_anchor_catches_a_cut_end_and_a_recomputed_rewrite_that_the_chain_alone_misses()
    {
        var path = WriteLog(6);
        var head = AuditChain.Verify(File.OpenRead(path)).Head!;
        Assert.Equal(6, head.Lines);
        Assert.Equal(AuditChain.HashLine(Encoding.UTF8.GetBytes(File.ReadAllLines(path)[5])), head.Hash);
        using (var writer = new AuditChainWriter(path))
        {
            writer.Append("""{"n":6,"type":"response"}"""u8.ToArray());
        }

        Assert.True(AuditChain.Verify(File.OpenRead(path), head).Ok);

        // Cut the last three lines: still a valid chain, but shorter than the anchor.
        var lines = File.ReadAllLines(path);
        File.WriteAllLines(path, lines[..4]);
        Assert.True(AuditChain.Verify(File.OpenRead(path)).Ok);
        var cut = AuditChain.Verify(File.OpenRead(path), head);
        Assert.False(cut.Ok);
        Assert.Contains("fewer than the anchor", cut.Reason, StringComparison.Ordinal);

        // Rewrite everything from line 3 on with freshly computed hashes: the chain verifies, the anchor does not.
        var rewritten = new List<string>(lines[..2]);
        for (var i = 2; i < lines.Length; i++)
        {
            var prev = AuditChain.HashLine(Encoding.UTF8.GetBytes(rewritten[^1]));
            rewritten.Add(Encoding.UTF8.GetString(AuditChain.ComposeLine(prev, Encoding.UTF8.GetBytes($$"""{"n":{{i}},"type":"forged"}"""))));
        }

        File.WriteAllLines(path, rewritten);
        Assert.True(AuditChain.Verify(File.OpenRead(path)).Ok);
        var forged = AuditChain.Verify(File.OpenRead(path), head);
        Assert.False(forged.Ok);
        Assert.Equal(6, forged.FirstBadLine);
    }

    [Fact]
    public void Cli_anchor_round_trip_and_malformed_anchor_is_a_usage_error()
    {
        var path = WriteLog(3);
        using var output = new StringWriter();
        Assert.Equal(0, Pii.Cli.Commands.AuditCommands.Verify(new FileInfo(path), output, TextWriter.Null));
        var anchor = output.ToString().Split(' ', '\n').Single(w => w.StartsWith("3:", StringComparison.Ordinal));

        Assert.Equal(0, Pii.Cli.Commands.AuditCommands.Verify(new FileInfo(path), TextWriter.Null, TextWriter.Null, anchor));
        File.WriteAllLines(path, File.ReadAllLines(path)[..2]);
        using var error = new StringWriter();
        Assert.Equal(1, Pii.Cli.Commands.AuditCommands.Verify(new FileInfo(path), TextWriter.Null, error, anchor));
        Assert.Contains("removed from its end", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, Pii.Cli.Commands.AuditCommands.Verify(new FileInfo(path), TextWriter.Null, TextWriter.Null, "0:" + new string('a', 64)));
        Assert.Equal(0, Pii.Cli.Commands.AuditCommands.Verify(new FileInfo(path), TextWriter.Null, TextWriter.Null, "0:" + AuditChain.GenesisHash));
        Assert.Equal(2, Pii.Cli.Commands.AuditCommands.Verify(new FileInfo(path), TextWriter.Null, TextWriter.Null, "3:XYZ"));
        Assert.Equal(2, Pii.Cli.Commands.AuditCommands.Verify(new FileInfo(path), TextWriter.Null, TextWriter.Null, "-1:" + new string('a', 64)));
        Assert.Empty(Pii.Cli.Commands.AuditCommands.Create().Parse(["verify", path, "--anchor", anchor]).Errors);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
