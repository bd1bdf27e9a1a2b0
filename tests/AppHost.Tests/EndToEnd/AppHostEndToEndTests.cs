using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
using Pii.AppHost.Hosting;
using Pii.Testing;
using Xunit.Abstractions;

namespace Pii.AppHost.Tests.EndToEnd;

/// <summary>
/// The whole AppHost as a user runs it (the built Pii.AppHost.dll, on its own data folder and non-default dashboard
/// ports): every resource healthy, a request through a service to the key service whose trace reaches the dashboard,
/// then Ctrl+C (SIGINT) and nothing left.
/// </summary>
public sealed class AppHostEndToEndTests(ITestOutputHelper log)
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Fact]
    public async Task Whole_system_starts_healthy_serves_a_request_and_leaves_no_process_after_Ctrl_C()
    {
        var repoRoot = AppModel.FindRepoRoot();
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name;
        var appHost = Path.Combine(repoRoot, "AppHost", "bin", configuration, "net10.0", "Pii.AppHost.dll");
        var root = Path.Combine(Path.GetTempPath(), "piiaspire-e2e-" + Guid.NewGuid().ToString("N")[..12]);
        var statusFile = Path.Combine(root, "status.json");
        var uiPort = FreePort();
        Directory.CreateDirectory(root);

        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in (string[])[appHost, "--data-dir", Path.Combine(root, "pii"), "--status-file", statusFile,
            $"--Dashboard:UiUrl=http://localhost:{uiPort}", $"--Dashboard:OtlpUrl=http://localhost:{FreePort()}"])
        {
            info.ArgumentList.Add(argument);
        }
        var output = new List<string>();
        using var apphost = new Process { StartInfo = info };
        apphost.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Add(e.Data); };
        apphost.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.Add(e.Data); };
        apphost.Start();
        apphost.BeginOutputReadLine();
        apphost.BeginErrorReadLine();
        string Output() { lock (output) return string.Join(Environment.NewLine, output); }

        try
        {
            var status = await WaitForReadyAsync(apphost, statusFile, TimeSpan.FromMinutes(4), Output);
            var resources = status["resources"]!.AsArray().Select(r => r!).ToList();
            Assert.Equal(14, resources.Count);
            Assert.All(resources, r =>
            {
                Assert.Equal("Running", (string?)r["state"]);
                Assert.Equal("Healthy", (string?)r["health"]);
            });
            Assert.Contains($"Dashboard login: http://localhost:{uiPort}/login?t=", Output(), StringComparison.Ordinal);
            Assert.Contains("resources healthy in", Output(), StringComparison.Ordinal);

            string Url(string name) => (string)resources.Single(r => (string?)r["name"] == name)["endpoints"]![0]!;
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var intake = await http.GetFromJsonAsync<JsonObject>(Url("formapi") + "/api/status");
            Assert.Equal("intake", (string?)intake!["instance"]);
            Assert.True((bool)intake["key_service"]!["reachable"]!);
            var backoffice = await http.GetFromJsonAsync<JsonObject>(Url("formapi-backoffice") + "/api/status");
            Assert.Equal("backoffice", (string?)backoffice!["instance"]);
            foreach (var project in resources.Where(r => (string?)r["type"] == "Project"))
            {
                using var health = await http.GetAsync((string)project["endpoints"]![0]! + "/health");
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            }

            var token = (await File.ReadAllTextAsync(Path.Combine(root, "pii", "secrets", "dashboard-token"))).Trim();
            var (traceId, spans) = await WaitForTraceAcrossAsync(http, $"http://localhost:{uiPort}", token, "formapi", "vault", TimeSpan.FromSeconds(60));
            Assert.Contains(spans, s => (string?)s["service"] == "formapi");
            Assert.Contains(spans, s => (string?)s["service"] == "vault");
            SeeResourcesAndTraceInBrowser($"http://localhost:{uiPort}", token, resources.Select(r => (string)r["name"]!).ToList(), traceId);

            var pids = resources.Select(r => (int?)r["pid"]).OfType<int>().ToList();
            Assert.Equal(9, pids.Count);
            Assert.True(Native.SignalProcess(apphost.Id, StopSignal()));
            await apphost.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(40));
            Assert.Equal(0, apphost.ExitCode);
            Assert.Contains("Stopped.", Output(), StringComparison.Ordinal);
            Assert.All(pids, pid => Assert.Empty(Native.ProcessesInGroup(pid)));
            Assert.Empty(ProcessesMentioning(root));
        }
        finally
        {
            log.WriteLine(Output());
            if (!apphost.HasExited) apphost.Kill(entireProcessTree: true);
            foreach (var pid in ProcessesMentioning(root)) Native.SignalGroup(pid, Native.SigKill);
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<JsonObject> WaitForReadyAsync(Process apphost, string statusFile, TimeSpan limit, Func<string> output)
    {
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(apphost.HasExited, "The AppHost exited during start-up:" + Environment.NewLine + output());
            if (File.Exists(statusFile))
            {
                var status = JsonNode.Parse(await File.ReadAllTextAsync(statusFile))!.AsObject();
                if ((bool)status["ready"]!) return status;
                if (status["resources"]!.AsArray().Any(r => (string?)r!["state"] is "FailedToStart" or "Exited"))
                {
                    Assert.Fail("A resource failed during start-up:" + Environment.NewLine + output() + Environment.NewLine + status.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                }
            }
            await Task.Delay(250);
        }
        Assert.Fail("Not ready in time:" + Environment.NewLine + output());
        throw new UnreachableException();
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

    /// <summary>The dashboard as a person sees it: every resource Running, then the trace's waterfall with both services.</summary>
    private static void SeeResourcesAndTraceInBrowser(string dashboard, string token, List<string> resourceNames, string traceId)
    {
        using var browser = HeadlessChromium.StartAsync("dashboard").GetAwaiter().GetResult();
        var driver = browser.Driver;
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
        // The page re-renders its table as it polls the API, so a row read a moment ago may be replaced.
        wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));

        driver.Navigate().GoToUrl(new Uri($"{dashboard}/login?t={token}"));
        wait.Until(d => resourceNames.All(name =>
            d.FindElements(By.Id($"resource-{name}")).FirstOrDefault()?.Text.Contains("Running", StringComparison.Ordinal) == true));
        browser.Screenshot("system-resources");

        driver.Navigate().GoToUrl(new Uri($"{dashboard}/traces/{traceId}"));
        var services = wait.Until(d =>
        {
            var rows = d.FindElements(By.CssSelector(".span-row")).Select(r => r.GetDomAttribute("data-service")).Distinct().Order().ToList();
            return rows.Count >= 2 ? rows : null;
        });
        Assert.Equal(["formapi", "vault"], services);
        browser.Screenshot("system-trace");
    }

    /// <summary>
    /// Polls the dashboard API for a trace rooted in <paramref name="service"/> that also has spans of
    /// <paramref name="other"/> (the <c>/api/status</c> call to the key service) and returns its spans.
    /// </summary>
    private static async Task<(string TraceId, List<JsonNode> Spans)> WaitForTraceAcrossAsync(HttpClient http, string dashboard, string token, string service, string other, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            using var list = new HttpRequestMessage(HttpMethod.Get, $"{dashboard}/api/traces?service={service}&limit=200");
            list.Headers.Authorization = new("Bearer", token);
            using var response = await http.SendAsync(list);
            response.EnsureSuccessStatusCode();
            var traces = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray();
            var across = traces.FirstOrDefault(t => t!["services"]!.AsArray().Any(s => (string?)s == other));
            if (across is not null)
            {
                using var detail = new HttpRequestMessage(HttpMethod.Get, $"{dashboard}/api/traces/{(string?)across["traceId"]}");
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
