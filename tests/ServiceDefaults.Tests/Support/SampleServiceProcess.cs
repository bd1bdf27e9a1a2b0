using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Pii.Testing;

/// <summary>
/// tests/SampleService (a real ASP.NET service on ServiceDefaults) started as its own process with the environment an
/// AppHost injects (ASPIRE-CONVENTIONS.md §1.8). Separate processes, because ActivitySource and Meter listeners are
/// process-wide: two services in one test process would export each other's spans and metrics.
/// </summary>
public sealed class SampleServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly object _outputLock = new();
    private readonly List<OutputLine> _output = [];
    private event Action<OutputLine>? LineReceived;

    private SampleServiceProcess(string name, Process process, Uri baseUrl)
    {
        Name = name;
        _process = process;
        BaseUrl = baseUrl;
        StartTime = DateTimeOffset.UtcNow;
    }

    public string Name { get; }

    public Uri BaseUrl { get; }

    public int Pid => _process.Id;

    public DateTimeOffset StartTime { get; }

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<OutputLine> Output
    {
        get
        {
            lock (_outputLock)
            {
                return [.. _output];
            }
        }
    }

    /// <summary>Starts the service and waits until its <c>/health</c> answers 200.</summary>
    public static async Task<SampleServiceProcess> StartAsync(string serviceName, string instanceId, Uri otlpEndpoint, string? otlpApiKey,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var baseUrl = new Uri($"http://127.0.0.1:{FreePort()}");
        var start = new ProcessStartInfo("dotnet", [SampleDllPath()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var env = start.Environment;
        env["ASPNETCORE_URLS"] = baseUrl.ToString().TrimEnd('/');
        env["ASPNETCORE_ENVIRONMENT"] = "Development";
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlpEndpoint.ToString().TrimEnd('/');
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        env["OTEL_SERVICE_NAME"] = serviceName;
        env["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={instanceId}";
        env["OTEL_BSP_SCHEDULE_DELAY"] = "200";
        env["OTEL_BLRP_SCHEDULE_DELAY"] = "200";
        env["OTEL_METRIC_EXPORT_INTERVAL"] = "500";
        env["OTEL_TRACES_SAMPLER"] = "always_on";
        env["DOTNET_SYSTEM_CONSOLE_ALLOW_ANSI_COLOR_REDIRECTION"] = "true";
        env["LOGGING__CONSOLE__FORMATTERNAME"] = "simple";
        if (otlpApiKey is not null)
        {
            env["OTEL_EXPORTER_OTLP_HEADERS"] = $"x-otlp-api-key={otlpApiKey}";
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            env[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var service = new SampleServiceProcess(serviceName, process, baseUrl);
        process.OutputDataReceived += (_, e) => service.Add(e.Data, isError: false);
        process.ErrorDataReceived += (_, e) => service.Add(e.Data, isError: true);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await service.WaitHealthyAsync();
        return service;
    }

    /// <summary>Buffered lines, then live ones until cancelled.</summary>
    public async IAsyncEnumerable<OutputLine> WatchAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = System.Threading.Channels.Channel.CreateUnbounded<OutputLine>();
        void Forward(OutputLine line) => channel.Writer.TryWrite(line);
        OutputLine[] buffered;
        lock (_outputLock)
        {
            buffered = [.. _output];
            LineReceived += Forward;
        }
        try
        {
            foreach (var line in buffered)
            {
                yield return line;
            }
            await foreach (var line in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return line;
            }
        }
        finally
        {
            lock (_outputLock)
            {
                LineReceived -= Forward;
            }
        }
    }

    private void Add(string? text, bool isError)
    {
        if (text is null)
        {
            return;
        }
        var line = new OutputLine(DateTimeOffset.UtcNow, isError, text);
        lock (_outputLock)
        {
            _output.Add(line);
            LineReceived?.Invoke(line);
        }
    }

    private async Task WaitHealthyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{string.Join('\n', Output.Select(l => l.Text))}");
            }
            try
            {
                using var response = await http.GetAsync(new Uri(BaseUrl, "/health"));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Slow first request.
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{Name} did not become healthy:\n{string.Join('\n', Output.Select(l => l.Text))}");
    }

    /// <summary>Stops the service as the AppHost does on Ctrl+C: SIGTERM, then waits for it to exit by itself.</summary>
    public async Task StopGracefullyAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        using var deadline = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(deadline.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>tests/SampleService/bin/&lt;same configuration as this test&gt;/net10.0/Pii.SampleService.dll.</summary>
    private static string SampleDllPath()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = directory.Parent!.Name; // bin/<Configuration>/net10.0/
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "PiiAspire.sln")))
        {
            directory = directory.Parent;
        }
        if (directory is null)
        {
            throw new InvalidOperationException("PiiAspire.sln not found above the test directory.");
        }
        var dll = Path.Combine(directory.FullName, "tests", "SampleService", "bin", configuration, "net10.0", "Pii.SampleService.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build tests/SampleService first (the test projects reference it).", dll);
    }
}

public sealed record OutputLine(DateTimeOffset Time, bool IsError, string Text);
