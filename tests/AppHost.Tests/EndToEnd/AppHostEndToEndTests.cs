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

            Assert.Equal(9, resources.Count(r => (int?)r["pid"] is not null));
            await apphost.StopAndCheckNothingLeftAsync();
        }
        finally
        {
            log.WriteLine(Output());
        }
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
