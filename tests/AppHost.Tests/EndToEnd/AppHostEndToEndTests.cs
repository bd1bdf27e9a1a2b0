using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Pii.Testing;
using Xunit.Abstractions;

namespace Pii.AppHost.Tests.EndToEnd;

/// <summary>
/// The whole system as README starts it, through Aspire.Hosting.Testing: every resource Running and healthy, each
/// project serving, a DNC submission traced across formapi and vault, and known PII sent through every service found
/// nowhere in what the system recorded (every span, log record and metric exported over OTLP, every console line).
/// </summary>
public sealed class AppHostEndToEndTests(ITestOutputHelper log)
{
    [Fact]
    public async Task Whole_system_starts_healthy_traces_across_services_and_records_no_pii()
    {
        await using var apphost = await AspireSystem.StartAsync("piiaspire-e2e-");
        try
        {
            var names = apphost.Resources.Select(r => r.Name).ToHashSet();
            foreach (var expected in (string[])["vault", "postgres", "records", "analytics", "mysql", "dnc", "s3", "documents", "backups",
                "formapi", "formapi-backoffice", "documentservice", "etlworker", "backupservice"])
            {
                Assert.Contains(expected, names);
            }

            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            var intake = await http.GetFromJsonAsync<JsonObject>(apphost.Url("formapi") + "/api/status");
            Assert.Equal("intake", (string?)intake!["instance"]);
            Assert.True((bool)intake["key_service"]!["reachable"]!);
            var backoffice = await http.GetFromJsonAsync<JsonObject>(apphost.Url("formapi-backoffice") + "/api/status");
            Assert.Equal("backoffice", (string?)backoffice!["instance"]);
            foreach (var project in (string[])["formapi", "formapi-backoffice", "documentservice", "etlworker", "backupservice"])
            {
                using var health = await http.GetAsync(apphost.Url(project) + "/health");
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            }

            var pii = await SendPiiThroughEveryServiceAsync(apphost, http);
            await BackUpAndRestoreToScratchAsync(apphost, http);
            var traceId = await apphost.Telemetry.WaitForTraceAcrossAsync(TimeSpan.FromSeconds(60), "formapi", "vault");
            log.WriteLine($"trace {traceId} spans formapi and vault");

            var recorded = apphost.Telemetry.AllText() + await apphost.ConsoleTextAsync();
            log.WriteLine($"{recorded.Length} characters of spans, logs, metrics and console output checked");
            // The sweep sees the requests that carried the PII (their route names), so an absence below means something.
            Assert.Contains("api/documents/{id:guid}", recorded, StringComparison.Ordinal);
            Assert.Contains("/api/suppression/check", recorded, StringComparison.Ordinal);
            foreach (var value in pii)
            {
                Assert.False(recorded.Contains(value, StringComparison.OrdinalIgnoreCase), $"a submitted PII value ({value.Length} characters) was recorded");
            }
        }
        catch
        {
            log.WriteLine(await apphost.DescribeAsync());
            throw;
        }
    }

    /// <summary>
    /// A backup of <c>records</c> (holding the patient just stored) and its restore into a scratch database, through the
    /// logins the AppHost gives BackupService: the operator's whole round trip, not just the service alone.
    /// </summary>
    private static async Task BackUpAndRestoreToScratchAsync(AspireSystem apphost, HttpClient http)
    {
        var backups = apphost.Url("backupservice");
        HttpRequestMessage Operator(HttpMethod method, string path, object? body = null)
        {
            var request = new HttpRequestMessage(method, backups + path) { Content = body is null ? null : JsonContent.Create(body) };
            request.Headers.Add("X-Api-Key", apphost.ApiKey("backupservice", "operator"));
            return request;
        }
        using var started = await http.SendAsync(Operator(HttpMethod.Post, "/api/backups", new { source = "records" }));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        var backup = await Eventually.WaitAsync(async () =>
        {
            using var poll = await http.SendAsync(Operator(HttpMethod.Get, $"/api/backups/{id}"));
            var state = await poll.Content.ReadFromJsonAsync<JsonObject>();
            return (string?)state!["state"] == "running" ? null : state;
        }, "the records backup to finish", TimeSpan.FromMinutes(2));
        Assert.True((string?)backup["state"] == "completed", backup.ToJsonString());
        using var restored = await http.SendAsync(Operator(HttpMethod.Post, $"/api/backups/{id}/restore", new { target = "scratch" }));
        var body = await restored.Content.ReadAsStringAsync();
        Assert.True(restored.IsSuccessStatusCode, $"scratch restore: {(int)restored.StatusCode} {body}");
    }

    /// <summary>Letters only (a-p) from hex, so a value is a plausible name and matches no route or id.</summary>
    private static string Letters(string hex) => string.Concat(hex.Select(c => (char)('a' + Convert.ToInt32(c.ToString(), 16))));

    /// <summary>
    /// Known PII (unique to this run) into every service: DNC intake, back-office lookup and reveal, a rejected submission,
    /// the dialer check, patient create / search / reveal, a document upload, search and download. Returns the values,
    /// once every service's last request has reached the telemetry receiver.
    /// </summary>
    private static async Task<List<string>> SendPiiThroughEveryServiceAsync(AspireSystem apphost, HttpClient http)
    {
        var marker = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
        var letters = Letters(marker);
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
            await Eventually.WaitAsync(() => apphost.Telemetry.Spans().FirstOrDefault(s => s.Service == service && s.Name.Contains(route, StringComparison.Ordinal)),
                $"a {route} span of {service}", TimeSpan.FromSeconds(60));
        }

        // Log records are exported in their own batches, a moment apart from the spans.
        await Task.Delay(TimeSpan.FromSeconds(3));
        return [name, phone, phone[2..], email, patientName, letters, ssn, ssn.Replace("-", "", StringComparison.Ordinal), mrn, fileName];
    }
}
