using System.Diagnostics;

namespace Pii.AppHost.Hosting;

/// <summary>
/// A child launched in its own session and process group (through <c>setsid</c>, which execs in place because a
/// freshly forked child is never a group leader), so that the whole tree it spawns can be killed at once and a
/// terminal's Ctrl+C reaches only the AppHost, which then stops children in order. Works as root and non-root.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    /// <summary>Variables a real AppHost does not pass on to children (DcpHost s_doNotInheritEnvironmentVars).</summary>
    private static readonly string[] NotInherited = ["ASPNETCORE_URLS", "DOTNET_LAUNCH_PROFILE", "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT"];

    private readonly Process _process;
    private readonly int _stopSignal;

    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildProcess(Process process, int stopSignal)
    {
        _process = process;
        _stopSignal = stopSignal;
    }

    public int Pid => _process.Id;

    /// <summary>The process group id; equal to the pid because setsid made the child a session leader.</summary>
    public int GroupId => _process.Id;

    /// <summary>Completes when the process itself exits (not when its output pipes close: a grandchild may hold them).</summary>
    public Task Exited => _exited.Task;

    public bool HasExited => Exited.IsCompleted;

    /// <summary>After exit: lets the output readers deliver the last lines, bounded (a grandchild may hold the pipes).</summary>
    public async Task DrainOutputAsync(TimeSpan limit)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(limit);
        }
        catch (TimeoutException)
        {
        }
    }

    public int ExitCode => _process.ExitCode;

    public static ChildProcess Start(ProcessSpec spec, ConsoleLog log)
    {
        var info = new ProcessStartInfo("setsid")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = spec.WorkingDirectory ?? Environment.CurrentDirectory,
        };
        if (spec.RunAsUser is not null && Native.IsRoot)
        {
            foreach (var argument in (string[])["setpriv", $"--reuid={spec.RunAsUser}", $"--regid={spec.RunAsUser}", "--init-groups", "--"])
            {
                info.ArgumentList.Add(argument);
            }
        }
        info.ArgumentList.Add(spec.FileName);
        foreach (var argument in spec.Arguments) info.ArgumentList.Add(argument);
        foreach (var name in NotInherited) info.Environment.Remove(name);
        foreach (var (name, value) in spec.Environment)
        {
            if (value is null) info.Environment.Remove(name);
            else info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process, spec.StopSignal);
        process.Exited += (_, _) => child._exited.TrySetResult();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) log.Append(e.Data, isError: false); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.Append(e.Data, isError: true); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>
    /// Graceful stop signal to the leader, up to <paramref name="grace"/> to exit, then SIGKILL to the whole group;
    /// finally SIGKILL to the group again so nothing the child spawned outlives it.
    /// </summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (!HasExited)
        {
            Native.SignalProcess(Pid, _stopSignal);
            await Task.WhenAny(Exited, Task.Delay(grace));
        }
        Native.SignalGroup(GroupId, Native.SigKill);
        await Exited;
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (Native.ProcessesInGroup(GroupId).Count > 0 && DateTime.UtcNow < deadline)
        {
            Native.SignalGroup(GroupId, Native.SigKill);
            await Task.Delay(50);
        }
    }

    public void Dispose() => _process.Dispose();
}
