using System.Diagnostics;

namespace Pii.BackupService.Backups;

/// <summary>
/// A dump or restore tool run as a child process with its stdin/stdout as streams. Standard error is drained (so the
/// child never blocks on a full pipe) and only counted: tools echo rows in some error messages, and no row may reach a
/// log or a failure record. Disposing kills the whole process tree if it is still running.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task _stderr;
    private long _stderrBytes;

    private ChildProcess(Process process)
    {
        _process = process;
        _stderr = DrainAsync(process.StandardError.BaseStream);
    }

    public string Tool { get; private init; } = "";

    public Stream StandardOutput => _process.StandardOutput.BaseStream;
    public Stream StandardInput => _process.StandardInput.BaseStream;

    public long StandardErrorBytes => Interlocked.Read(ref _stderrBytes);

    public int Id => _process.Id;

    /// <summary>Starts <paramref name="fileName"/>; secrets go in <paramref name="environment"/>, never in arguments.</summary>
    public static ChildProcess Start(string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, bool redirectInput)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (key, value) in environment) info.Environment[key] = value;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"{Path.GetFileName(fileName)} did not start.");
        return new ChildProcess(process) { Tool = Path.GetFileName(fileName) };
    }

    /// <summary>Waits for exit (after stdout was read to its end) and returns the exit code.</summary>
    public async Task<int> WaitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        await _stderr;
        return _process.ExitCode;
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
    }

    private async Task DrainAsync(Stream stderr)
    {
        var buffer = new byte[4096];
        int read;
        while ((read = await stderr.ReadAsync(buffer)) > 0) Interlocked.Add(ref _stderrBytes, read);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
