using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pii.AppHost.Hosting;

namespace Pii.AppHost.Tests.EndToEnd;

/// <summary>
/// The built Pii.AppHost.dll started as a user runs it, on its own data folder (<see cref="PiiRoot"/>) and non-default
/// dashboard ports, with its output captured; shared by the end-to-end test classes. Dispose kills whatever is left and
/// deletes the folder.
/// </summary>
internal sealed class RunningAppHost : IDisposable
{
    private readonly List<string> _output = [];

    private RunningAppHost(string root, int uiPort, Process process)
    {
        Root = root;
        UiPort = uiPort;
        Process = process;
    }

    public string Root { get; }

    /// <summary>The AppHost's --data-dir: data/, secrets/ (api-keys.json, dashboard-token, passwords).</summary>
    public string PiiRoot => Path.Combine(Root, "pii");

    public int UiPort { get; }

    public string Dashboard => $"http://localhost:{UiPort}";

    public Process Process { get; }

    public JsonObject Status { get; private set; } = [];

    public static RunningAppHost Start(string prefix)
    {
        var repoRoot = AppModel.FindRepoRoot();
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name;
        var appHost = Path.Combine(repoRoot, "AppHost", "bin", configuration, "net10.0", "Pii.AppHost.dll");
        var root = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]);
        var uiPort = FreePort();
        Directory.CreateDirectory(root);

        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in (string[])[appHost, "--data-dir", Path.Combine(root, "pii"), "--status-file", Path.Combine(root, "status.json"),
            $"--Dashboard:UiUrl=http://localhost:{uiPort}", $"--Dashboard:OtlpUrl=http://localhost:{FreePort()}"])
        {
            info.ArgumentList.Add(argument);
        }
        var running = new RunningAppHost(root, uiPort, new Process { StartInfo = info });
        running.Process.OutputDataReceived += (_, e) => running.Append(e.Data);
        running.Process.ErrorDataReceived += (_, e) => running.Append(e.Data);
        running.Process.Start();
        running.Process.BeginOutputReadLine();
        running.Process.BeginErrorReadLine();
        return running;
    }

    public string Output()
    {
        lock (_output) return string.Join(Environment.NewLine, _output);
    }

    /// <summary>
    /// Waits until the AppHost's console output contains <paramref name="text"/>: it prints its summary just after the
    /// status file says ready, and the output reaches this process through a pipe a moment later still.
    /// </summary>
    public async Task<bool> OutputContainsAsync(string text, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!Output().Contains(text, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(100);
        }
        return true;
    }

    /// <summary>Waits for the status file to say ready (failing fast when a resource fails) and keeps it in <see cref="Status"/>.</summary>
    public async Task<JsonObject> WaitForReadyAsync(TimeSpan limit)
    {
        var statusFile = Path.Combine(Root, "status.json");
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(Process.HasExited, "The AppHost exited during start-up:" + Environment.NewLine + Output());
            if (File.Exists(statusFile))
            {
                var status = JsonNode.Parse(await File.ReadAllTextAsync(statusFile))!.AsObject();
                if ((bool)status["ready"]!) return Status = status;
                if (status["resources"]!.AsArray().Any(r => (string?)r!["state"] is "FailedToStart" or "Exited"))
                {
                    Assert.Fail("A resource failed during start-up:" + Environment.NewLine + Output() + Environment.NewLine + status.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                }
            }
            await Task.Delay(250);
        }
        Assert.Fail("Not ready in time:" + Environment.NewLine + Output());
        throw new UnreachableException();
    }

    public List<JsonNode> Resources => [.. Status["resources"]!.AsArray().Select(r => r!)];

    /// <summary>A resource's first endpoint URL from the status file.</summary>
    public string Url(string name) => (string)Resources.Single(r => (string?)r["name"] == name)["endpoints"]![0]!;

    public string DashboardToken() => File.ReadAllText(Path.Combine(PiiRoot, "secrets", "dashboard-token")).Trim();

    /// <summary>A role's API key for a service from <c>.pii/secrets/api-keys.json</c>.</summary>
    public string ApiKey(string service, string role) =>
        (string)JsonNode.Parse(File.ReadAllText(Path.Combine(PiiRoot, "secrets", ApiKeys.FileName)))![service]![role]!;

    /// <summary>Stops the AppHost as Ctrl+C does and checks it exits cleanly leaving no process behind.</summary>
    public async Task StopAndCheckNothingLeftAsync()
    {
        var pids = Resources.Select(r => (int?)r["pid"]).OfType<int>().ToList();
        Assert.True(Native.SignalProcess(Process.Id, StopSignal()));
        await Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(40));
        Assert.Equal(0, Process.ExitCode);
        Assert.Contains("Stopped.", Output(), StringComparison.Ordinal);
        Assert.All(pids, pid => Assert.Empty(Native.ProcessesInGroup(pid)));
        Assert.Empty(ProcessesMentioning(Root));
    }

    /// <summary>
    /// Polls the dashboard API for a trace rooted in <paramref name="service"/> (whose root span name passes
    /// <paramref name="root"/>) that also has spans of <paramref name="other"/>, and returns its spans.
    /// </summary>
    public async Task<(string TraceId, List<JsonNode> Spans)> WaitForTraceAcrossAsync(HttpClient http, string service, string other, TimeSpan limit, Func<string, bool>? root = null)
    {
        var token = DashboardToken();
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            using var list = new HttpRequestMessage(HttpMethod.Get, $"{Dashboard}/api/traces?service={service}&limit=200");
            list.Headers.Authorization = new("Bearer", token);
            using var response = await http.SendAsync(list);
            response.EnsureSuccessStatusCode();
            var traces = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
            var across = traces.FirstOrDefault(t => t!["services"]!.AsArray().Any(s => (string?)s == other)
                && (root is null || root((string?)t["rootName"] ?? "")));
            if (across is not null)
            {
                using var detail = new HttpRequestMessage(HttpMethod.Get, $"{Dashboard}/api/traces/{(string?)across["traceId"]}");
                detail.Headers.Authorization = new("Bearer", token);
                using var detailResponse = await http.SendAsync(detail);
                detailResponse.EnsureSuccessStatusCode();
                return ((string)across["traceId"]!, JsonNode.Parse(await detailResponse.Content.ReadAsStringAsync())!["spans"]!.AsArray().Select(s => s!).ToList());
            }
            await Task.Delay(500);
        }
        Assert.Fail($"No trace of {service} with spans of {other} reached the dashboard in {limit}.");
        throw new UnreachableException();
    }

    /// <summary>
    /// Everything the system recorded that an operator can read: every span (names, attributes, events) and log record the
    /// dashboard holds, every resource's console output, the metrics, and the AppHost's own output, as one text.
    /// </summary>
    public async Task<string> RecordedTextAsync(HttpClient http)
    {
        var token = DashboardToken();
        async Task<JsonNode> Get(string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Dashboard + path);
            request.Headers.Authorization = new("Bearer", token);
            using var response = await http.SendAsync(request);
            response.EnsureSuccessStatusCode();
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        }

        var recorded = new System.Text.StringBuilder(Output());
        foreach (var trace in (await Get("/api/traces?limit=10000")).AsArray())
        {
            AppendStrings(recorded, await Get($"/api/traces/{(string)trace!["traceId"]!}"));
        }

        AppendStrings(recorded, await Get("/api/logs?limit=10000"));
        AppendStrings(recorded, await Get("/api/metrics"));
        foreach (var resource in Resources)
        {
            AppendStrings(recorded, await Get($"/api/resources/{(string)resource["name"]!}/console"));
        }

        return recorded.ToString();
    }

    /// <summary>Every property name and value of the JSON, unescaped (the API's JSON escapes '+', '@' and non-ASCII).</summary>
    private static void AppendStrings(System.Text.StringBuilder text, JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (name, value) in o)
                {
                    text.AppendLine(name);
                    AppendStrings(text, value);
                }
                break;
            case JsonArray a:
                foreach (var item in a) AppendStrings(text, item);
                break;
            case JsonValue v:
                text.AppendLine(v.ToString());
                break;
        }
    }

    /// <summary>Hex digits mapped to letters: names must be letters, and a random marker keeps them unique per run.</summary>
    public static string Letters(string hex) => new([.. hex.Select(c => (char)('a' + Convert.ToInt32(c.ToString(), 16)))]);

    /// <summary>Polls the dashboard until a trace of <paramref name="service"/> has a span whose name contains <paramref name="spanName"/>.</summary>
    public async Task WaitForTraceAsync(HttpClient http, string service, string spanName, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            using var list = new HttpRequestMessage(HttpMethod.Get, $"{Dashboard}/api/traces?service={service}&q={Uri.EscapeDataString(spanName)}&limit=1");
            list.Headers.Authorization = new("Bearer", DashboardToken());
            using var response = await http.SendAsync(list);
            response.EnsureSuccessStatusCode();
            if (JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray().Count > 0) return;
            await Task.Delay(250);
        }
        Assert.Fail($"No trace of {service} with a span named like {spanName} reached the dashboard in {limit}.");
    }

    public void Dispose()
    {
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        foreach (var pid in ProcessesMentioning(Root)) Native.SignalGroup(pid, Native.SigKill);
        Process.Dispose();
        Directory.Delete(Root, recursive: true);
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.Add(line);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Ctrl+C's SIGINT, unless this test runs as a background job (CI under `cmd &amp;`): the shell then starts it with
    /// SIGINT ignored, the AppHost inherits that, and .NET keeps an inherited-ignored SIGINT ignored. SIGTERM takes the
    /// same shutdown path in the AppHost.
    /// </summary>
    private static int StopSignal()
    {
        var ignored = File.ReadLines("/proc/self/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        var mask = Convert.ToUInt64(ignored["SigIgn:".Length..].Trim(), 16);
        return (mask & (1UL << (Native.SigInt - 1))) == 0 ? Native.SigInt : Native.SigTerm;
    }

    /// <summary>Processes whose command line names <paramref name="path"/> (the e2e data folder): servers it started.</summary>
    private static List<int> ProcessesMentioning(string path)
    {
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(directory, "cmdline")).Contains(path, StringComparison.Ordinal)) found.Add(pid);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return found;
    }
}
