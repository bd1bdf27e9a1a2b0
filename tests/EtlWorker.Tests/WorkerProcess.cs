using System.Diagnostics;
using System.Text;

namespace Pii.EtlWorker.Tests;

/// <summary>The built worker (Pii.EtlWorker.dll beside the tests) as a real child process with the AppHost's environment.</summary>
public sealed class WorkerProcess : IDisposable
{
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private WorkerProcess(Process process) => Process = process;

    public Process Process { get; }

    public string StandardOutput
    {
        get
        {
            lock (_stdout) return _stdout.ToString();
        }
    }

    public string StandardError
    {
        get
        {
            lock (_stderr) return _stderr.ToString();
        }
    }

    public static WorkerProcess Start(EtlFixture fixture, IEnumerable<(string Key, string Value)> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Pii.EtlWorker.dll"));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in WorkerFactory.Environment(fixture)) start.Environment[key] = value;
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "";
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var worker = new WorkerProcess(Process.Start(start)!);
        worker.Process.OutputDataReceived += (_, e) => { lock (worker._stdout) worker._stdout.AppendLine(e.Data); };
        worker.Process.ErrorDataReceived += (_, e) => { lock (worker._stderr) worker._stderr.AppendLine(e.Data); };
        worker.Process.BeginOutputReadLine();
        worker.Process.BeginErrorReadLine();
        return worker;
    }

    /// <summary>Runs to exit (at most two minutes); returns the exit code.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(EtlFixture fixture, params string[] arguments)
    {
        using var worker = Start(fixture, [], arguments);
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await worker.Process.WaitForExitAsync(limit.Token);
        worker.Process.WaitForExit();
        return (worker.Process.ExitCode, worker.StandardOutput, worker.StandardError);
    }

    /// <summary>SIGKILL: no shutdown code of the worker runs.</summary>
    public void KillHard()
    {
        Process.Kill(entireProcessTree: true);
        Process.WaitForExit();
    }

    public void Dispose()
    {
        if (!Process.HasExited) KillHard();
        Process.Dispose();
    }
}
