using System.CommandLine;
using Pii.Crypto.Audit;

namespace Pii.Cli.Commands;

/// <summary><c>pii audit verify FILE</c>: checks the key service's hash-chained audit log (format in Pii.Crypto.Audit.AuditChain).</summary>
public static class AuditCommands
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "The audit log (JSON lines) to verify" };
        var verify = new Command("verify", "Verify the audit log's hash chain: exit 0 when intact, 1 at the first bad line");
        verify.Arguments.Add(file);
        verify.SetAction(parse => Verify(parse.GetValue(file)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error));
        var audit = new Command("audit", "Key service audit log tools");
        audit.Subcommands.Add(verify);
        return audit;
    }

    public static int Verify(FileInfo file, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (!file.Exists)
        {
            error.WriteLine($"audit verify: {file.FullName}: no such file");
            return 2;
        }

        using var stream = new BufferedStream(file.OpenRead(), 1 << 16);
        var result = AuditChain.Verify(stream);
        if (!result.Ok)
        {
            error.WriteLine($"audit verify: FAILED at line {result.FirstBadLine}: {result.Reason} ({result.LinesVerified} lines verified before it)");
            return 1;
        }

        output.WriteLine($"audit verify: OK, {result.LinesVerified} lines");
        if (result.TornTail)
        {
            error.WriteLine("audit verify: note: the file ends with an incomplete line (a write cut off by a crash); it was not counted");
        }

        return 0;
    }
}
