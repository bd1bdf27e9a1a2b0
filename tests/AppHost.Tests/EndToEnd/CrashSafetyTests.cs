using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Pii.AppHost.Hosting;
using Xunit.Abstractions;

namespace Pii.AppHost.Tests.EndToEnd;

/// <summary>
/// The AppHost process dying as a user's does (kill -9, or SIGHUP when its terminal closes): within 15 s nothing it
/// started is left running, and the next start on the same state comes up healthy with every earlier row, document
/// and key intact. The built Pii.AppHost.dll runs as a plain process here, since the test must kill it.
/// </summary>
public sealed class CrashSafetyTests(ITestOutputHelper log)
{
    private static readonly string[] Services = ["formapi", "formapi-backoffice", "documentservice", "etlworker", "backupservice"];

    [Fact]
    public async Task After_kill_9_or_SIGHUP_nothing_is_left_running_and_the_next_start_keeps_every_row_document_and_key()
    {
        var root = Path.Combine(Path.GetTempPath(), "piiaspire-crash-" + Guid.NewGuid().ToString("N")[..12]);
        var ports = new[] { "vault", "postgres", "mysql", "s3" }.Concat(Services).ToDictionary(n => n, _ => FreePort());
        var otlp = $"http://127.0.0.1:{FreePort()}";
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        string Url(string service) => $"http://localhost:{ports[service]}";
        string ApiKey(string service, string role) =>
            (string)JsonNode.Parse(File.ReadAllText(Path.Combine(root, "secrets", ApiKeys.FileName)))![service]![role]!;
        try
        {
            var first = Start(root, ports, otlp);
            await WaitHealthyAsync(http, first, Url);

            using var submitted = await http.PostAsJsonAsync(Url("formapi") + "/api/dnc", new JsonObject
            {
                ["first_name"] = "Crash", ["middle_name"] = "T", ["last_name"] = "Survivor", ["phone"] = "+15557654321",
                ["email"] = "crash@example.com", ["phone_dnc"] = true, ["email_dnc"] = false,
            });
            Assert.Equal(HttpStatusCode.Created, submitted.StatusCode);
            var dncId = (string)(await submitted.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
            var (patientId, documentId, content) = await StoreDocumentAsync(http, Url("documentservice"), ApiKey("documentservice", "clinician"));

            await KillAndCheckNothingLeftAsync(first, "KILL", root, otlp);

            var second = Start(root, ports, otlp);
            await WaitHealthyAsync(http, second, Url);
            await CheckStoredAsync(http, Url, ApiKey, dncId, documentId, content);

            await KillAndCheckNothingLeftAsync(second, "HUP", root, otlp);

            var third = Start(root, ports, otlp);
            await WaitHealthyAsync(http, third, Url);
            await CheckStoredAsync(http, Url, ApiKey, dncId, documentId, content);
            await KillAndCheckNothingLeftAsync(third, "TERM", root, otlp);
            log.WriteLine($"patient {patientId} and its document survived two crashes");
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // Left to the OS temp cleaner.
            }
        }
    }

    private Process Start(string root, Dictionary<string, int> ports, string otlp)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Parent!.Name;
        var appHost = Path.Combine(LocalState.FindRepoRoot(), "AppHost", "bin", configuration, "net10.0", "Pii.AppHost.dll");
        var info = new ProcessStartInfo("dotnet", [appHost]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.Environment["DOTNET_ENVIRONMENT"] = "Development";
        info.Environment["ASPNETCORE_URLS"] = $"http://localhost:{FreePort()}";
        info.Environment["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = otlp;
        info.Environment["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = $"http://localhost:{FreePort()}";
        info.Environment["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true";
        info.Environment["PiiAspire__StateDirectory"] = root;
        foreach (var (name, port) in ports) info.Environment[$"PiiAspire__Ports__{name}"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitHealthyAsync(HttpClient http, Process appHost, Func<string, string> url)
    {
        var started = Stopwatch.StartNew();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        foreach (var service in Services)
        {
            while (true)
            {
                Assert.False(appHost.HasExited, "the AppHost exited during start-up");
                Assert.True(DateTime.UtcNow < deadline, $"{service} not healthy in 5 minutes");
                try
                {
                    using var health = await http.GetAsync(url(service) + "/health");
                    if (health.StatusCode == HttpStatusCode.OK) break;
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }
                await Task.Delay(500);
            }
        }
        log.WriteLine($"all services healthy after {started.Elapsed.TotalSeconds:F1} s");
    }

    private async Task KillAndCheckNothingLeftAsync(Process appHost, string signal, string root, string otlp)
    {
        using (var kill = Process.Start("kill", [$"-{signal}", appHost.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
        {
            await kill.WaitForExitAsync();
        }
        var clock = Stopwatch.StartNew();
        List<string> left;
        do
        {
            await Task.Delay(250);
            left = ProcessesOf(root, otlp, appHost.Id);
        }
        while (left.Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(15));
        log.WriteLine($"SIG{signal}: everything gone after {clock.Elapsed.TotalSeconds:F1} s");
        Assert.True(left.Count == 0, $"still running 15 s after SIG{signal}:{Environment.NewLine}{string.Join(Environment.NewLine, left)}");
    }

    /// <summary>
    /// Every process this AppHost started: servers name the state folder in their command line, projects carry its
    /// OTLP endpoint in their environment, and DCP monitors the AppHost's pid.
    /// </summary>
    private static List<string> ProcessesOf(string root, string otlp, int appHostPid)
    {
        var found = new List<string>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                var commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ');
                if (commandLine.Length == 0) continue;
                var environment = File.ReadAllText(Path.Combine(directory, "environ"));
                if (commandLine.Contains(root, StringComparison.Ordinal) || environment.Contains(otlp, StringComparison.Ordinal)
                    || (commandLine.Contains("dcp", StringComparison.Ordinal) && commandLine.Contains($"--monitor {appHostPid}", StringComparison.Ordinal)))
                {
                    found.Add($"{pid}: {commandLine}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone while being read.
            }
        }
        return found;
    }

    private static async Task<(string PatientId, string DocumentId, byte[] Content)> StoreDocumentAsync(HttpClient http, string documents, string clinician)
    {
        using var createPatient = new HttpRequestMessage(HttpMethod.Post, documents + "/api/patients")
        {
            Content = JsonContent.Create(new JsonObject { ["mrn"] = "MRN-CRASH-" + Guid.NewGuid().ToString("N")[..6], ["fullName"] = "Crash Survivor", ["dateOfBirth"] = "1970-01-01" }),
        };
        createPatient.Headers.Add("X-Api-Key", clinician);
        using var patient = await http.SendAsync(createPatient);
        Assert.Equal(HttpStatusCode.Created, patient.StatusCode);
        var patientId = (string)(await patient.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;

        var content = RandomNumberGenerator.GetBytes(300_000);
        using var upload = new HttpRequestMessage(HttpMethod.Post, $"{documents}/api/patients/{patientId}/documents") { Content = new ByteArrayContent(content) };
        upload.Content.Headers.ContentType = new("application/pdf");
        upload.Headers.Add("X-Api-Key", clinician);
        upload.Headers.Add("X-File-Name", "scan.pdf");
        using var stored = await http.SendAsync(upload);
        Assert.Equal(HttpStatusCode.Created, stored.StatusCode);
        return (patientId, (string)(await stored.Content.ReadFromJsonAsync<JsonObject>())!["id"]!, content);
    }

    private static async Task CheckStoredAsync(HttpClient http, Func<string, string> url, Func<string, string, string> apiKey, string dncId, string documentId, byte[] content)
    {
        using var read = new HttpRequestMessage(HttpMethod.Get, $"{url("formapi-backoffice")}/api/dnc/{dncId}?reveal=true&reason=crash%20recovery%20check");
        read.Headers.Add("X-Api-Key", apiKey("formapi-backoffice", "supervisor"));
        using var row = await http.SendAsync(read);
        Assert.Equal(HttpStatusCode.OK, row.StatusCode);
        Assert.Equal("+15557654321", (string?)(await row.Content.ReadFromJsonAsync<JsonObject>())!["phone"]);

        using var download = new HttpRequestMessage(HttpMethod.Get, $"{url("documentservice")}/api/documents/{documentId}");
        download.Headers.Add("X-Api-Key", apiKey("documentservice", "clinician"));
        using var document = await http.SendAsync(download);
        Assert.Equal(HttpStatusCode.OK, document.StatusCode);
        Assert.Equal(content, await document.Content.ReadAsByteArrayAsync());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
