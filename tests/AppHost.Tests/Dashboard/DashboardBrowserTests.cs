using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
using Pii.Testing;

namespace Pii.AppHost.Tests.Dashboard;

/// <summary>
/// Real headless Chromium (Debian chromium + chromedriver, PLATFORM.md settings): log in with the token, see the
/// resources Running, open a real request's trace and see spans of both services in the waterfall. Screenshots go
/// to TestResults/screenshots at the repository root.
/// </summary>
[Collection(DashboardGroup.Name)]
public sealed class DashboardBrowserTests(DashboardFixture fixture)
{
    [Fact]
    public async Task Log_in_see_resources_and_open_a_trace_spanning_two_services()
    {
        var traceId = await MakeChainTraceAsync();

        using var browser = await HeadlessChromium.StartAsync("dashboard");
        var driver = browser.Driver;
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(20));
        // The pages re-render as they poll the API, so an element read a moment ago may be replaced.
        wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));

        driver.Navigate().GoToUrl(new Uri(fixture.Dashboard.UiUrl, $"/login?t={DashboardFixture.BrowserToken}"));
        wait.Until(d => new[] { "frontend", "backend" }.All(name =>
            d.FindElements(By.Id($"resource-{name}")).FirstOrDefault()?.Text is { } text
            && text.Contains("Running", StringComparison.Ordinal) && text.Contains("Healthy", StringComparison.Ordinal)));
        browser.Screenshot("resources");

        driver.Navigate().GoToUrl(new Uri(fixture.Dashboard.UiUrl, "/traces"));
        var traceRow = wait.Until(d => d.FindElements(By.CssSelector($"tr[data-trace-id='{traceId}']")).FirstOrDefault());
        browser.Screenshot("traces");
        traceRow!.Click();

        var services = wait.Until(d =>
        {
            var rows = d.FindElements(By.CssSelector(".span-row"));
            return rows.Count >= 3 ? rows.Select(r => r.GetDomAttribute("data-service")).Distinct().Order().ToList() : null;
        });
        Assert.Equal(["backend", "frontend"], services);
        driver.FindElements(By.CssSelector(".span-row[data-service='backend']")).First().Click();
        var details = wait.Until(d => d.FindElements(By.Id("span-details")).FirstOrDefault());
        Assert.Contains("http.route", details!.Text, StringComparison.Ordinal);
        browser.Screenshot("trace-waterfall");

        driver.Navigate().GoToUrl(new Uri(fixture.Dashboard.UiUrl, $"/logs?traceId={traceId}"));
        wait.Until(d => d.FindElements(By.CssSelector(".log-row")).Count > 0);
        browser.Screenshot("logs");

        driver.Navigate().GoToUrl(new Uri(fixture.Dashboard.UiUrl, "/metrics?service=backend"));
        wait.Until(d => d.FindElements(By.CssSelector(".metric-card")).Count > 0);
        browser.Screenshot("metrics");

        driver.Navigate().GoToUrl(new Uri(fixture.Dashboard.UiUrl, "/console/backend"));
        wait.Until(d => d.FindElement(By.Id("console")).Text.Contains("Now listening on", StringComparison.Ordinal));
        browser.Screenshot("console");
    }

    [Fact]
    public async Task Without_the_token_the_browser_stays_on_the_login_page()
    {
        using var browser = await HeadlessChromium.StartAsync("dashboard");
        var driver = browser.Driver;

        driver.Navigate().GoToUrl(new Uri(fixture.Dashboard.UiUrl, "/traces"));
        Assert.EndsWith("/login", driver.Url, StringComparison.Ordinal);
        driver.FindElement(By.Id("token")).SendKeys("wrong-token");
        driver.FindElement(By.CssSelector("button[type=submit]")).Click();

        // The form posts and the answer is a new page: wait for it rather than read the old one.
        var error = new WebDriverWait(driver, TimeSpan.FromSeconds(30)).Until(d => d.FindElements(By.CssSelector(".error")).FirstOrDefault());
        Assert.Contains("not valid", error!.Text, StringComparison.Ordinal);
        browser.Screenshot("login-rejected");
    }

    private async Task<string> MakeChainTraceAsync()
    {
        using var http = new HttpClient { BaseAddress = fixture.Frontend.BaseUrl };
        (await http.GetAsync("/chain")).EnsureSuccessStatusCode();
        var trace = await Eventually.WaitAsync(
            () => fixture.Dashboard.Store.GetTraces().FirstOrDefault(t => t.Root.Name == "GET /chain" && t.Services.Count == 2 && t.Spans.Count >= 3),
            "a /chain trace across both services");
        return trace.TraceId;
    }
}
