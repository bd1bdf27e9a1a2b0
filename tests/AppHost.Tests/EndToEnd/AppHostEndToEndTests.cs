using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
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
    [Fact]
    public async Task Whole_system_starts_healthy_serves_a_request_and_leaves_no_process_after_Ctrl_C()
    {
        using var apphost = RunningAppHost.Start("piiaspire-e2e-");
        var uiPort = apphost.UiPort;
        string Output() => apphost.Output();

        try
        {
            var status = await apphost.WaitForReadyAsync(TimeSpan.FromMinutes(4));
            var resources = status["resources"]!.AsArray().Select(r => r!).ToList();
            Assert.Equal(14, resources.Count);
            Assert.All(resources, r =>
            {
                Assert.Equal("Running", (string?)r["state"]);
                Assert.Equal("Healthy", (string?)r["health"]);
            });
            Assert.True(await apphost.OutputContainsAsync($"Dashboard login: http://localhost:{uiPort}/login?t=", TimeSpan.FromSeconds(10)), Output());
            Assert.Contains("resources healthy in", Output(), StringComparison.Ordinal);

            string Url(string name) => apphost.Url(name);
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

            var token = apphost.DashboardToken();
            var (traceId, spans) = await apphost.WaitForTraceAcrossAsync(http, "formapi", "vault", TimeSpan.FromSeconds(60));
            Assert.Contains(spans, s => (string?)s["service"] == "formapi");
            Assert.Contains(spans, s => (string?)s["service"] == "vault");
            SeeResourcesAndTraceInBrowser($"http://localhost:{uiPort}", token, resources.Select(r => (string)r["name"]!).ToList(), traceId);

            var pii = await SendPiiThroughEveryServiceAsync(apphost, http);
            var recorded = await apphost.RecordedTextAsync(http);
            log.WriteLine($"{recorded.Length} characters of spans, logs, metrics and console output checked");
            // The sweep sees the requests that carried the PII (their route names), so an absence below means something.
            Assert.Contains("api/documents/{id:guid}", recorded, StringComparison.Ordinal);
            Assert.Contains("/api/suppression/check", recorded, StringComparison.Ordinal);
            foreach (var value in pii)
            {
                Assert.False(recorded.Contains(value, StringComparison.OrdinalIgnoreCase), $"a submitted PII value ({value.Length} characters) was recorded");
            }

            Assert.Equal(9, resources.Count(r => (int?)r["pid"] is not null));
            await apphost.StopAndCheckNothingLeftAsync();
        }
        finally
        {
            log.WriteLine(Output());
        }
    }

    /// <summary>
    /// Known PII (unique to this run) into every service: DNC intake, back-office lookup and reveal, a rejected submission,
    /// the dialer check, patient create / search / reveal, a document upload, search and download. Returns the values,
    /// once every service's last request has reached the dashboard.
    /// </summary>
    private static async Task<List<string>> SendPiiThroughEveryServiceAsync(RunningAppHost apphost, HttpClient http)
    {
        var marker = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
        var letters = RunningAppHost.Letters(marker);
        var name = "Ottoline" + letters;
        var phone = "+1555" + System.Security.Cryptography.RandomNumberGenerator.GetInt32(1_000_000, 10_000_000);
        var email = $"leak-{marker}@example.com";
        var patientName = $"Perpetua {letters} Vandermolen";
        var ssn = $"{System.Security.Cryptography.RandomNumberGenerator.GetInt32(100, 900)}-{System.Security.Cryptography.RandomNumberGenerator.GetInt32(10, 100)}-{System.Security.Cryptography.RandomNumberGenerator.GetInt32(1000, 10000)}";
        var mrn = "MRN-" + marker;
        var fileName = $"scan of {patientName}.pdf";

        HttpRequestMessage Request(HttpMethod method, string url, string? service = null, string? role = null, HttpContent? content = null)
        {
            var request = new HttpRequestMessage(method, url) { Content = content };
            if (service is not null) request.Headers.Add("X-Api-Key", apphost.ApiKey(service, role!));
            return request;
        }

        async Task<JsonObject?> Send(HttpRequestMessage request, HttpStatusCode expected)
        {
            using (request)
            using (var response = await http.SendAsync(request))
            {
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == expected, $"{request.Method} {request.RequestUri!.AbsolutePath}: {(int)response.StatusCode} {body}");
                return body.StartsWith('{') ? JsonNode.Parse(body)!.AsObject() : null;
            }
        }

        var formapi = apphost.Url("formapi");
        var backoffice = apphost.Url("formapi-backoffice");
        var documents = apphost.Url("documentservice");
        var dnc = new JsonObject { ["first_name"] = name, ["middle_name"] = "Q", ["last_name"] = name, ["phone"] = phone, ["email"] = email, ["phone_dnc"] = true, ["email_dnc"] = true };
        var id = (string)(await Send(Request(HttpMethod.Post, formapi + "/api/dnc", content: JsonContent.Create(dnc)), HttpStatusCode.Created))!["id"]!;
        dnc["email"] = email + "@";
        var rejected = await Send(Request(HttpMethod.Post, formapi + "/api/dnc", content: JsonContent.Create(dnc)), HttpStatusCode.BadRequest);
        Assert.DoesNotContain(email, rejected!.ToJsonString(), StringComparison.OrdinalIgnoreCase);
        await Send(Request(HttpMethod.Get, $"{backoffice}/api/dnc/lookup?email={Uri.EscapeDataString(email)}", "formapi-backoffice", "agent"), HttpStatusCode.OK);
        await Send(Request(HttpMethod.Get, $"{backoffice}/api/dnc/{id}?reveal=true&reason=leak%20check", "formapi-backoffice", "supervisor"), HttpStatusCode.OK);

        var patient = new JsonObject { ["mrn"] = mrn, ["fullName"] = patientName, ["dateOfBirth"] = "1901-02-03", ["address"] = $"1 {letters} Lane", ["ssn"] = ssn, ["diagnosisCodes"] = new JsonArray("E11.9") };
        var patientId = (string)(await Send(Request(HttpMethod.Post, documents + "/api/patients", "documentservice", "clinician", JsonContent.Create(patient)), HttpStatusCode.Created))!["id"]!;
        await Send(Request(HttpMethod.Get, $"{documents}/api/patients?name={Uri.EscapeDataString(patientName)}", "documentservice", "clinician"), HttpStatusCode.OK);
        await Send(Request(HttpMethod.Get, $"{documents}/api/patients?ssn={ssn}&mrn={mrn}", "documentservice", "clinician"), HttpStatusCode.OK);
        await Send(Request(HttpMethod.Post, $"{documents}/api/patients/{patientId}/reveal", "documentservice", "records-admin", JsonContent.Create(new { reason = "leak check" })), HttpStatusCode.OK);
        var upload = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes($"%PDF-1.4 {patientName} {ssn}"));
        upload.Headers.ContentType = new("application/pdf");
        var uploadRequest = Request(HttpMethod.Post, $"{documents}/api/patients/{patientId}/documents", "documentservice", "clinician", upload);
        uploadRequest.Headers.Add("X-File-Name", Uri.EscapeDataString(fileName));
        var documentId = (string)(await Send(uploadRequest, HttpStatusCode.Created))!["id"]!;
        await Send(Request(HttpMethod.Get, $"{documents}/api/documents?fileName={Uri.EscapeDataString(fileName)}", "documentservice", "clinician"), HttpStatusCode.OK);
        await Send(Request(HttpMethod.Get, $"{documents}/api/documents/{documentId}", "documentservice", "clinician"), HttpStatusCode.OK);

        await Send(Request(HttpMethod.Get, $"{apphost.Url("etlworker")}/api/suppression/check?phone={Uri.EscapeDataString(phone)}", "etlworker", "dialer"), HttpStatusCode.OK);

        foreach (var (service, route) in new[] { ("formapi", "POST"), ("formapi-backoffice", "dnc/{id"), ("documentservice", "documents/{id"), ("etlworker", "suppression/check") })
        {
            await apphost.WaitForTraceAsync(http, service, route, TimeSpan.FromSeconds(60));
        }

        // Log records are exported in their own batches, a moment apart from the spans.
        await Task.Delay(TimeSpan.FromSeconds(3));
        return [name, phone, phone[2..], email, patientName, letters, ssn, ssn.Replace("-", "", StringComparison.Ordinal), mrn, fileName];
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
}
