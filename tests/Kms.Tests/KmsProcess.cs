using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Pii.Kms.Tests;

/// <summary>The key service as a real child process (<c>dotnet Pii.Kms.dll -config=…</c>) on a free loopback port.</summary>
public sealed class KmsProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output;

    private KmsProcess(Process process, Uri address, ConcurrentQueue<string> output)
    {
        _process = process;
        Address = address;
        _output = output;
    }

    public Uri Address { get; }

    /// <summary>The service's own process (<c>dotnet Pii.Kms.dll</c> runs the app in the host process).</summary>
    public int ProcessId => _process.Id;

    /// <summary>A field of <c>/proc/&lt;pid&gt;/status</c> in kB, e.g. VmRSS (resident now) or VmHWM (peak resident).</summary>
    public long StatusKilobytes(string field)
    {
        var line = File.ReadLines($"/proc/{ProcessId}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>What the service wrote to stdout and stderr so far.</summary>
    public string Output => string.Join('\n', _output);

    /// <summary>Waits until the service's output contains <paramref name="text"/> (log lines arrive asynchronously).</summary>
    public async Task<string> WaitForOutputAsync(string text)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The key service never wrote '{text}'. Output:\n{Output}");
            }

            await Task.Delay(50);
        }

        return Output;
    }

    /// <summary>The service and the CLI are project references, so their built apps sit beside the tests.</summary>
    public static string BuiltDll(string dll) => Path.Combine(AppContext.BaseDirectory, dll);

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static Task<KmsProcess> StartAsync(string configFile, int port, IReadOnlyDictionary<string, string>? environment = null) =>
        StartAsync(["-config=" + configFile], port, environment);

    public static async Task<KmsProcess> StartAsync(IReadOnlyList<string> arguments, int port, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo("dotnet", [BuiltDll("Pii.Kms.dll"), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment.Remove("ASPNETCORE_URLS");
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[name] = value;
        }

        var process = Process.Start(psi)!;
        var output = new ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var address = new Uri($"http://127.0.0.1:{port}/");
        using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(2) };
        // Start-up is a dotnet process start plus JIT: on a 2-core machine shared by several builds it has taken over 30 s.
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The key service exited with {process.ExitCode}.");
            }

            try
            {
                // A sealed service is up too (tests of the seal start it sealed on purpose); callers check sys/health.
                using var response = await http.GetAsync("v1/sys/health?sealedcode=200");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return new KmsProcess(process, address, output);
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Not answering yet.
            }

            await Task.Delay(100);
        }

        process.Kill(entireProcessTree: true);
        throw new TimeoutException("The key service did not become healthy.");
    }

    /// <summary>SIGKILL: no shutdown hooks, no flushes — a crash.</summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>SIGTERM and wait, so the service shuts down normally (dev mode removes its temporary store).</summary>
    public void Dispose()
    {
        if (!_process.HasExited)
        {
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                term.WaitForExit();
            }

            if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                KillHard();
            }
        }

        _process.Dispose();
    }
}
