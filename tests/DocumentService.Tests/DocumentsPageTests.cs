extern alias documentservice;

using System.Net.Http.Json;
using System.Text.Json;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;
using Pii.Testing;
using SecurityHeaders = documentservice::Pii.DocumentService.SecurityHeaders;

namespace Pii.DocumentService.Tests;

/// <summary>
/// The documents page in real headless Chromium: every control labelled, sensitivity shown per tier (colour, label, lock
/// icon on encrypted fields), problem-details reasons shown (beside the field where there is one), no stale "stored"
/// after a failed upload, tier 3 revealed only through a reason sent to the reveal endpoint (and logged), all by
/// keyboard, text contrast at least 4.5:1, and nothing inline for the strict CSP to allow.
/// </summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class DocumentsPageTests(DocumentServiceFixture fixture)
{
    private const string Ssn = "234-56-7891";

    /// <summary>WCAG contrast ratio between an element's text colour and the first opaque background behind it.</summary>
    private const string ContrastScript = """
        const luminance = colour => {
          const [r, g, b] = colour.match(/[\d.]+/g).slice(0, 3).map(Number).map(v => v / 255)
            .map(v => v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
          return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const background = element => {
          for (; element; element = element.parentElement) {
            const colour = getComputedStyle(element).backgroundColor;
            const parts = colour.match(/[\d.]+/g);
            if (parts.length < 4 || Number(parts[3]) > 0) return colour;
          }
          return 'rgb(255, 255, 255)';
        };
        const text = luminance(getComputedStyle(arguments[0]).color), behind = luminance(background(arguments[0]));
        return (Math.max(text, behind) + 0.05) / (Math.min(text, behind) + 0.05);
        """;

    [Fact]
    public async Task The_page_marks_tiers_gives_problem_reasons_and_reveals_tier_3_only_with_a_logged_reason()
    {
        var work = Directory.CreateTempSubdirectory("pii-docs-page-").FullName;
        try
        {
            var scan = Path.Combine(work, "scan.pdf");
            var empty = Path.Combine(work, "empty.pdf");
            await File.WriteAllBytesAsync(scan, [1, 2, 3, 4]);
            await File.WriteAllBytesAsync(empty, []);
            using var http = fixture.Client();
            using (var page = await http.GetAsync("/"))
            {
                Assert.Equal(SecurityHeaders.ContentSecurityPolicy, page.Headers.GetValues("Content-Security-Policy").Single());
            }

            using var browser = await HeadlessChromium.StartAsync("documents-page");
            var driver = browser.Driver;
            var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
            wait.IgnoreExceptionTypes(typeof(StaleElementReferenceException));
            driver.Navigate().GoToUrl(fixture.BaseAddress);

            // Nothing inline: no inline script, style attribute or event-handler attribute.
            Assert.Equal(0L, driver.ExecuteScript("""
                return [...document.querySelectorAll('*')].filter(e => (e.tagName === 'SCRIPT' && !e.src) || e.hasAttribute('style')
                  || [...e.attributes].some(a => a.name.startsWith('on'))).length
                """));
            // Every control has a label.
            Assert.Empty((IReadOnlyCollection<object>)driver.ExecuteScript(
                "return [...document.querySelectorAll('input, select, textarea')].filter(e => e.labels.length === 0).map(e => e.id)")!);

            driver.FindElement(By.Id("api-key")).SendKeys(DocumentServiceFixture.ClinicianKey + Keys.Tab);

            // The service refuses the SSN: its reason beside the field and in the status line.
            var mrn = "PAGE-" + Random.Shared.Next(100000, 999999);
            driver.FindElement(By.Id("new-mrn")).SendKeys(mrn);
            driver.FindElement(By.Id("new-name")).SendKeys("Grace Hopper");
            driver.FindElement(By.Id("new-ssn")).SendKeys("000-12-3456");
            driver.FindElement(By.Id("new-codes")).SendKeys("E11.9" + Keys.Enter);
            wait.Until(d => d.FindElement(By.Id("new-ssn-error")).Text.Length > 0);
            Assert.Contains("not a number the SSA issues", driver.FindElement(By.Id("new-ssn-error")).Text, StringComparison.Ordinal);
            Assert.Equal("true", driver.FindElement(By.Id("new-ssn")).GetDomAttribute("aria-invalid"));
            Assert.Contains("not a number the SSA issues", driver.FindElement(By.Id("status")).Text, StringComparison.Ordinal);
            AssertReadable(driver, By.Id("new-ssn-error"));
            browser.Screenshot("field-error");

            var ssnInput = driver.FindElement(By.Id("new-ssn"));
            ssnInput.Clear();
            ssnInput.SendKeys(Ssn + Keys.Enter);
            wait.Until(d => d.FindElement(By.Id("patient-section")).Displayed);
            var patientId = Guid.Parse(driver.FindElement(By.Id("patient")).GetDomAttribute("data-patient-id")!);

            // Sensitivity per field: tier, colour, lock icon on the encrypted ones; tier 3 masked.
            var rows = driver.FindElements(By.CssSelector("#patient .field-row"));
            var tiers = rows.ToDictionary(r => r.GetDomAttribute("data-field")!, r => r.GetDomAttribute("data-tier")!);
            Assert.Equal("3", tiers["ssn"]);
            Assert.All(new[] { "mrn", "fullName", "dateOfBirth", "address", "diagnosisCodes" }, field => Assert.Equal("2", tiers[field]));
            Assert.Equal("1", tiers["createdAt"]);
            foreach (var row in rows)
            {
                var locks = row.FindElements(By.CssSelector("img.lock[alt=encrypted]")).Count;
                Assert.Equal(row.GetDomAttribute("data-tier") == "1" ? 0 : 1, locks);
            }
            var colours = new[] { "1", "2", "3" }.Select(tier => driver.FindElement(By.CssSelector($"#patient .field-row.tier-{tier} dt")).GetCssValue("border-left-color")).ToList();
            Assert.Equal(3, colours.Distinct().Count());
            Assert.Equal("***-**-****", driver.FindElement(By.Id("ssn-value")).Text);
            Assert.DoesNotContain("7891", driver.FindElement(By.TagName("body")).Text, StringComparison.Ordinal);
            foreach (var badge in driver.FindElements(By.CssSelector(".tier"))) AssertReadable(driver, badge);
            AssertReadable(driver, By.Id("ssn-value"));

            // A stored upload, then a failed one: "stored" does not stay, and the service's reason is shown.
            driver.FindElement(By.Id("upload-file")).SendKeys(scan);
            driver.FindElement(By.Id("upload-button")).Click();
            wait.Until(d => d.FindElement(By.Id("upload-percent")).Text == "stored");
            driver.FindElement(By.Id("upload-file")).SendKeys(empty);
            driver.FindElement(By.Id("upload-button")).Click();
            wait.Until(d => d.FindElement(By.Id("upload-percent")).Text == "failed");
            Assert.Equal("0", driver.FindElement(By.Id("upload-progress")).GetDomProperty("value"));
            Assert.Contains("The document is empty.", driver.FindElement(By.Id("status")).Text, StringComparison.Ordinal);
            AssertReadable(driver, By.Id("upload-percent"));
            AssertReadable(driver, By.Id("status"));
            browser.Screenshot("upload-failed");

            // Reveal by keyboard as a clinician: the reason is asked for, the service refuses, the dialog says why.
            driver.FindElement(By.Id("reveal-button")).SendKeys(Keys.Enter);
            wait.Until(d => DialogOpen(d));
            Assert.Equal("reveal-reason", driver.SwitchTo().ActiveElement().GetDomAttribute("id"));
            driver.SwitchTo().ActiveElement().SendKeys("why not" + Keys.Enter);
            Assert.Contains("10 to 500 characters", driver.FindElement(By.Id("reveal-error")).Text, StringComparison.Ordinal);
            var reason = driver.SwitchTo().ActiveElement();
            reason.Clear();
            reason.SendKeys("Identity check for a billing dispute" + Keys.Enter);
            wait.Until(d => d.FindElement(By.Id("reveal-error")).Text.Contains("role", StringComparison.Ordinal));
            AssertReadable(driver, By.Id("reveal-error"));
            browser.Screenshot("reveal-refused");
            driver.SwitchTo().ActiveElement().SendKeys(Keys.Escape);
            wait.Until(d => !DialogOpen(d));
            Assert.Equal("***-**-****", driver.FindElement(By.Id("ssn-value")).Text);

            // As records-admin the reason goes to the reveal endpoint and the SSN is shown.
            var key = driver.FindElement(By.Id("api-key"));
            key.Clear();
            key.SendKeys(DocumentServiceFixture.AdminKey + Keys.Tab);
            const string Reason = "Identity check for a billing dispute, ticket 4711";
            driver.FindElement(By.Id("reveal-button")).SendKeys(Keys.Enter);
            wait.Until(d => DialogOpen(d));
            driver.SwitchTo().ActiveElement().SendKeys(Reason + Keys.Enter);
            wait.Until(d => d.FindElement(By.Id("ssn-value")).Text == Ssn);
            Assert.False(DialogOpen(driver));
            browser.Screenshot("revealed");

            using var auditor = fixture.Client(DocumentServiceFixture.AuditorKey);
            var log = await auditor.GetFromJsonAsync<JsonElement>($"/api/audit/access-log?patientId={patientId}&limit=1000");
            Assert.Contains(log.EnumerateArray(), entry => entry.GetProperty("action").GetString() == "patient.reveal"
                && entry.GetProperty("reason").GetString() == Reason && entry.GetProperty("role").GetString() == "records-admin");

            // Hide masks it again.
            driver.FindElement(By.Id("reveal-button")).SendKeys(Keys.Enter);
            wait.Until(d => d.FindElement(By.Id("ssn-value")).Text == "***-**-****");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static bool DialogOpen(IWebDriver driver) => (bool)((IJavaScriptExecutor)driver).ExecuteScript("return document.getElementById('reveal-dialog').open")!;

    private static void AssertReadable(ChromeDriver driver, By locator) => AssertReadable(driver, driver.FindElement(locator));

    private static void AssertReadable(ChromeDriver driver, IWebElement element)
    {
        var ratio = Convert.ToDouble(driver.ExecuteScript(ContrastScript, element), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(ratio >= 4.5, $"{element.TagName}#{element.GetDomAttribute("id")}.{element.GetDomAttribute("class")}: contrast {ratio:F2} < 4.5");
    }
}
