namespace Pii.EtlWorker.Etl;

/// <summary>
/// The worker's own flags, taken out before the host sees the rest: <c>--once</c> (one pass, then exit),
/// <c>--print</c> (with --once: print the rows of the pass, masked), <c>--reveal</c> (with --print: unmasked).
/// </summary>
public sealed record EtlCommandLine(bool Once, bool Print, bool Reveal, string[] HostArguments)
{
    public static EtlCommandLine Parse(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        bool Has(string flag) => args.Contains(flag, StringComparer.Ordinal);
        var once = Has("--once");
        var print = Has("--print");
        var reveal = Has("--reveal");
        if ((print && !once) || (reveal && !print))
        {
            throw new ArgumentException("--print needs --once, and --reveal needs --print.");
        }

        return new EtlCommandLine(once, print, reveal, [.. args.Where(a => a is not ("--once" or "--print" or "--reveal"))]);
    }
}
