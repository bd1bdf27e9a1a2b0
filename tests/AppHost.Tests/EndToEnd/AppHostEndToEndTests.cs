using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pii.AppHost.Hosting;
using Xunit.Abstractions;

namespace Pii.AppHost.Tests.EndToEnd;

/// <summary>
/// The whole AppHost as a user runs it (the built Pii.AppHost.dll, on its own data folder and non-default dashboard
/// ports): every resource healthy, a request through a service to the key service, then SIGINT and nothing left.
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
    public async Task Whole_system_starts_healthy_serves_a_request_and_leaves_no_process_after_SIGINT()
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
            Assert.True((bool)intake["keyService"]!["reachable"]!);
            var backoffice = await http.GetFromJsonAsync<JsonObject>(Url("formapi-backoffice") + "/api/status");
            Assert.Equal("backoffice", (string?)backoffice!["instance"]);
            foreach (var project in resources.Where(r => (string?)r["type"] == "Project"))
            {
                using var health = await http.GetAsync((string)project["endpoints"]![0]! + "/health");
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            }

            var pids = resources.Select(r => (int?)r["pid"]).OfType<int>().ToList();
            Assert.Equal(9, pids.Count);
            Assert.True(Native.SignalProcess(apphost.Id, Native.SigInt));
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
