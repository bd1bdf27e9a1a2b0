using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using MySqlConnector;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
using Pii.Testing;
using Xunit.Abstractions;

namespace Pii.AppHost.Tests.EndToEnd;

/// <summary>
/// Issue 5 through the whole AppHost (Aspire.Hosting.Testing): the DNC form submitted in a real browser on the public intake, the row in MySQL
/// as ciphertext only (and no plaintext byte anywhere in the MariaDB data directory), the ETL's suppression answer for
/// a dialer, KEK then DEK rotation through the back office's admin API while submissions continue, every record still
/// revealed correctly, and a submission's trace with formapi, vault and MySQL spans in the exported telemetry.
/// </summary>
public sealed class DncEndToEndTests(ITestOutputHelper log)
{
    private sealed record Submitted(Guid Id, string FirstName, string LastName, string Phone, string Email);

    [Fact]
    public async Task Dnc_form_to_suppression_list_survives_key_rotation_under_load_and_is_traced()
    {
        await using var apphost = await AspireSystem.StartAsync("piiaspire-dnc-e2e-");
        try
        {
            var intake = apphost.Url("formapi");
            var backoffice = apphost.Url("formapi-backoffice");
            var etl = apphost.Url("etlworker");
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

            // 1. A person submits the form in a browser (markers unique to this run, so a byte scan cannot hit by chance).
            var marker = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
            var first = "Zoe" + Letters(marker);
            var last = "Quill" + Letters(marker[..6]);
            var phone = "+1555" + RandomNumberGenerator.GetInt32(1_000_000, 10_000_000);
            var email = $"dnc-{marker}@example.com";
            SubmitFormInBrowser(intake, first, last, phone, email);

            using var agent = Client(backoffice, apphost.ApiKey("formapi-backoffice", "agent"));
            var found = Assert.Single((await agent.GetFromJsonAsync<JsonArray>($"/api/dnc/lookup?phone={Uri.EscapeDataString(phone)}"))!);
            var browserRecord = new Submitted(Guid.Parse((string)found!["id"]!), first, last, phone, email);

            // 2. MySQL holds ciphertext only: the stored cells are not the plaintext, and no file of the data directory
            // contains any of the plaintext values (redo log, tablespaces, binary logs alike).
            await using (var mysql = new MySqlConnection(
                $"Server={Path.Combine(apphost.Root, "data", "mysql", "mysqld.sock")};Protocol=unix;User ID=root;Password={File.ReadAllText(Path.Combine(apphost.Root, "secrets", "mysql-root-password")).Trim()};Database=dnc;SslMode=None"))
            {
                await mysql.OpenAsync();
                await using var select = new MySqlCommand("SELECT first_name, last_name, phone, email FROM dnc_preferences WHERE id = @id", mysql);
                select.Parameters.AddWithValue("@id", browserRecord.Id.ToByteArray(bigEndian: true));
                await using var reader = await select.ExecuteReaderAsync();
                Assert.True(await reader.ReadAsync());
                string[] plain = [first, last, phone, email];
                for (var i = 0; i < plain.Length; i++)
                {
                    var cell = (byte[])reader.GetValue(i);
                    Assert.True(cell.Length > Encoding.UTF8.GetByteCount(plain[i]));
                    Assert.Equal(-1, cell.AsSpan().IndexOf(Encoding.UTF8.GetBytes(plain[i])));
                }
            }

            // 3. The ETL decrypts it under its own identity; a dialer is told not to call.
            using var dialer = Client(etl, apphost.ApiKey("etlworker", "dialer"));
            var answer = await WaitForAsync(async () =>
            {
                var check = await dialer.GetFromJsonAsync<JsonObject>($"/api/suppression/check?phone={Uri.EscapeDataString(phone)}");
                return (bool)check!["contact"]! ? null : check;
            }, TimeSpan.FromSeconds(60), "the ETL to load the submission");
            Assert.Equal("phone_dnc", (string?)answer["reason"]);
            AssertNoPlaintextInDataDirectory(Path.Combine(apphost.Root, "data", "mysql"), first, last, phone, email);

            // 4. KEK then DEK rotation through the admin API while submissions keep arriving on POST /api/dnc.
            var submitted = new List<Submitted> { browserRecord };
            var failures = new List<string>();
            int SubmittedCount()
            {
                lock (submitted) return submitted.Count;
            }

            using var stopLoad = new CancellationTokenSource();
            var load = Task.Run(async () =>
            {
                for (var i = 0; !stopLoad.IsCancellationRequested; i++)
                {
                    var record = new Submitted(Guid.Empty, "Load" + Letters(marker), "Runner" + Letters(i.ToString("x", System.Globalization.CultureInfo.InvariantCulture)),
                        "+1555" + RandomNumberGenerator.GetInt32(1_000_000, 10_000_000), $"load{i}-{marker}@example.com");
                    using var response = await http.PostAsJsonAsync(intake + "/api/dnc", new JsonObject
                    {
                        ["first_name"] = record.FirstName, ["middle_name"] = "Q", ["last_name"] = record.LastName,
                        ["phone"] = record.Phone, ["email"] = record.Email, ["phone_dnc"] = i % 2 == 0, ["email_dnc"] = true,
                    });
                    if (response.StatusCode != HttpStatusCode.Created)
                    {
                        var problem = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                        lock (failures) failures.Add(problem);
                        continue;
                    }
                    var id = Guid.Parse((string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!);
                    lock (submitted) submitted.Add(record with { Id = id });
                    await Task.Delay(150);
                }
            });

            using var admin = Client(backoffice, apphost.ApiKey("formapi-backoffice", "admin"));
            await Task.Delay(1000);
            using (var kek = await admin.PostAsync("/api/keys/rotate-kek", null))
            {
                Assert.Equal(HttpStatusCode.OK, kek.StatusCode);
            }
            await Task.Delay(1000);
            using var dek = await admin.PostAsync("/api/keys/rotate-dek", null);
            Assert.Equal(HttpStatusCode.Accepted, dek.StatusCode);
            var rotation = (await dek.Content.ReadFromJsonAsync<JsonObject>())!;
            var job = await WaitForAsync(async () =>
            {
                var state = await admin.GetFromJsonAsync<JsonObject>($"/api/keys/jobs/{(string)rotation["job_id"]!}");
                return (string?)state!["status"] == "completed" ? state : null;
            }, TimeSpan.FromSeconds(60), "the re-encryption job to complete");
            Assert.Equal(0, (long)job["rows_remaining"]!);
            await Task.Delay(1000);
            // A busy runner may have answered few submissions so far: the load goes on until there are some.
            for (var waited = 0; waited < 60 && SubmittedCount() <= 5; waited++)
            {
                await Task.Delay(1000);
            }

            await stopLoad.CancelAsync();
            await load;
            Assert.Empty(failures);
            Assert.True(SubmittedCount() > 5, $"only {submitted.Count} submissions during the rotations");
            log.WriteLine($"{submitted.Count} records; job: {job.ToJsonString()}");

            // 5. Every record still decrypts to what was submitted (revealed by a supervisor, with a reason).
            using var supervisor = Client(backoffice, apphost.ApiKey("formapi-backoffice", "supervisor"));
            foreach (var record in submitted)
            {
                var revealed = (await supervisor.GetFromJsonAsync<JsonObject>($"/api/dnc/{record.Id}?reveal=true&reason=e2e%20rotation%20check"))!;
                Assert.Equal(record.FirstName, (string?)revealed["first_name"]);
                Assert.Equal(record.LastName, (string?)revealed["last_name"]);
                Assert.Equal(record.Phone, (string?)revealed["phone"]);
                Assert.Equal(record.Email, (string?)revealed["email"]);
            }

            // 6. A submission's trace (the intake's POST, which took a DEK from the key service) reached the dashboard.
            var traceId = await apphost.Telemetry.WaitForTraceAcrossAsync(TimeSpan.FromSeconds(60), "formapi", "vault");
            var spans = apphost.Telemetry.Spans().Where(s => s.TraceId == traceId).ToList();
            Assert.Contains(spans, s => s.Service == "formapi" && s.Name.Contains("POST", StringComparison.Ordinal));
            // ... and its MySQL statement (FormApi's own client span around MySqlConnector's).
            await Eventually.WaitAsync(() => apphost.Telemetry.Spans().FirstOrDefault(s => s.Service == "formapi" && s.Name.StartsWith("INSERT", StringComparison.Ordinal)),
                "an INSERT span of formapi", TimeSpan.FromSeconds(60));
        }
        catch
        {
            log.WriteLine(await apphost.DescribeAsync());
            throw;
        }
    }

    private static HttpClient Client(string baseUrl, string apiKey)
    {
        var client = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        return client;
    }

    private static void SubmitFormInBrowser(string intake, string first, string last, string phone, string email)
    {
        using var browser = HeadlessChromium.StartAsync("dnc-e2e").GetAwaiter().GetResult();
        var driver = browser.Driver;
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
        driver.Navigate().GoToUrl(new Uri(intake + "/"));
        driver.FindElement(By.Id("first_name")).SendKeys(first);
        driver.FindElement(By.Id("last_name")).SendKeys(last);
        driver.FindElement(By.Id("phone")).SendKeys(phone);
        driver.FindElement(By.Id("email")).SendKeys(email);
        driver.FindElement(By.Id("phone_dnc")).Click();
        driver.FindElement(By.Id("submit")).Click();
        wait.Until(d => d.FindElement(By.Id("confirmation")).Displayed);
        var page = driver.FindElement(By.TagName("body")).Text;
        Assert.DoesNotContain(phone, page, StringComparison.Ordinal);
        Assert.DoesNotContain(email, page, StringComparison.Ordinal);
        browser.Screenshot("dnc-submitted");
    }

    private static void AssertNoPlaintextInDataDirectory(string directory, params string[] values)
    {
        var needles = values.Select(Encoding.UTF8.GetBytes).ToList();
        var files = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).ToList();
        Assert.Contains(files, f => f.EndsWith("dnc_preferences.ibd", StringComparison.Ordinal));
        foreach (var file in files)
        {
            byte[] content;
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                content = new byte[stream.Length];
                stream.ReadAtLeast(content, content.Length, throwOnEndOfStream: false);
            }
            catch (IOException)
            {
                continue; // a socket or a file removed while scanning
            }
            foreach (var needle in needles)
            {
                Assert.True(content.AsSpan().IndexOf(needle) < 0, $"plaintext found in {Path.GetFileName(file)}");
            }
        }
    }

    private static async Task<JsonObject> WaitForAsync(Func<Task<JsonObject?>> probe, TimeSpan limit, string what)
    {
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } result) return result;
            await Task.Delay(500);
        }
        Assert.Fail($"Timed out waiting for {what}.");
        throw new System.Diagnostics.UnreachableException();
    }

    /// <summary>Letters only (a-p) from hex, so a value is a plausible name and matches no route or id.</summary>
    private static string Letters(string hex) => string.Concat(hex.Select(c => (char)('a' + Convert.ToInt32(c.ToString(), 16))));
}
