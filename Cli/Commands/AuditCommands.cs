using System.CommandLine;
using Pii.Crypto.Audit;

namespace Pii.Cli.Commands;

/// <summary>
/// <c>pii audit verify FILE [--anchor N:HASH]</c>: checks the key service's hash-chained audit log (format and anchors
/// in Pii.Crypto.Audit.AuditChain) and prints the anchor of its last line, to be recorded outside the log.
/// </summary>
public static class AuditCommands
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "The audit log (JSON lines) to verify" };
        var anchor = new Option<string?>("--anchor") { Description = "N:HASH printed by an earlier verification: fail unless the log still holds its first N lines unchanged" };
        var verify = new Command("verify", "Verify the audit log's hash chain: exit 0 when intact, 1 at the first bad line");
        verify.Arguments.Add(file);
        verify.Options.Add(anchor);
        verify.SetAction(parse => Verify(parse.GetValue(file)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, parse.GetValue(anchor)));
        var audit = new Command("audit", "Key service audit log tools");
        audit.Subcommands.Add(verify);
        return audit;
    }

    public static int Verify(FileInfo file, TextWriter output, TextWriter error, string? anchorText = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var anchor = anchorText is null ? null : AuditAnchor.Parse(anchorText);
        if (anchorText is not null && anchor is null)
        {
            error.WriteLine("audit verify: --anchor must be N:HASH (a line count and 64 lowercase hex characters)");
            return 2;
        }

        if (!file.Exists)
        {
            error.WriteLine($"audit verify: {file.FullName}: no such file");
            return 2;
        }

        using var stream = new BufferedStream(file.OpenRead(), 1 << 16);
        var result = AuditChain.Verify(stream, anchor);
        if (!result.Ok)
        {
            error.WriteLine($"audit verify: FAILED at line {result.FirstBadLine}: {result.Reason} ({result.LinesVerified} lines verified before it)");
            return 1;
        }

        output.WriteLine($"audit verify: OK, {result.LinesVerified} lines");
        output.WriteLine($"audit verify: anchor {result.Head} (keep it outside the log; --anchor proves later that nothing up to here changed)");
        if (result.TornTail)
        {
            error.WriteLine("audit verify: note: the file ends with an incomplete line (a write cut off by a crash); it was not counted");
        }

        return 0;
    }
}
