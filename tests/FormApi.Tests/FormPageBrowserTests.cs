using System.Net;
using System.Net.Sockets;
using Dapper;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;
using Pii.Testing;

namespace Pii.FormApi.Tests;

/// <summary>
/// The form at <c>/</c> in real headless Chromium against the intake on Kestrel: labelled fields, client-side messages
/// next to the field, a server-side message next to the field when the browser's check passes but the server's does not,
/// and a confirmation that shows none of what was typed.
/// </summary>
[Collection(FormApiGroup.Name)]
public sealed class FormPageBrowserTests(FormApiFixture fixture)
{
    [Fact]
    public async Task Fill_the_form_see_validation_next_to_fields_submit_and_see_a_confirmation_without_pii()
    {
        int port = FreePort();
        using var intake = fixture.CreateIntake(kestrelPort: port);
        intake.StartServer();
        var baseUrl = new Uri($"http://127.0.0.1:{port}/");
        await using var owner = await fixture.OpenOwnerAsync();
        var before = await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM dnc_preferences");

        using var browser = await HeadlessChromium.StartAsync("formapi");
        var driver = browser.Driver;
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(15));
        driver.Navigate().GoToUrl(baseUrl);

        // Every input has a label pointing at it.
        foreach (var field in new[] { "first_name", "middle_name", "last_name", "phone", "email", "phone_dnc", "email_dnc" })
        {
            Assert.Single(driver.FindElements(By.CssSelector($"label[for='{field}']")));
        }

        // Client-side: empty required fields and a malformed phone number, each message beside its field.
        driver.FindElement(By.Id("phone")).SendKeys("555-1234");
        driver.FindElement(By.Id("email")).SendKeys("not-an-email");
        driver.FindElement(By.Id("submit")).Click();
        Assert.Equal("Required.", driver.FindElement(By.Id("first_name-error")).Text);
        Assert.Contains("E.164", driver.FindElement(By.Id("phone-error")).Text, StringComparison.Ordinal);
        Assert.Contains("e-mail", driver.FindElement(By.Id("email-error")).Text, StringComparison.Ordinal);
        Assert.Equal("true", driver.FindElement(By.Id("phone")).GetDomAttribute("aria-invalid"));
        browser.Screenshot("client-validation");

        // Server-side: the browser's phone check passes, the server's E.164 normalisation refuses a "(0)" trunk prefix.
        Fill(driver, "first_name", "Ysolde");
        Fill(driver, "last_name", "Quenneville");
        Fill(driver, "phone", "+44 (0) 20 7946 0000");
        Fill(driver, "email", "ysolde.q@example.net");
        driver.FindElement(By.Id("submit")).Click();
        wait.Until(d => d.FindElement(By.Id("phone-error")).Text.Length > 0);
        Assert.Contains("E.164", driver.FindElement(By.Id("phone-error")).Text, StringComparison.Ordinal);
        Assert.Equal("", driver.FindElement(By.Id("first_name-error")).Text);
        browser.Screenshot("server-validation");
        Assert.Equal(before, await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM dnc_preferences"));

        Fill(driver, "phone", "+44 20 7946 0000");
        driver.FindElement(By.Id("phone_dnc")).Click();
        driver.FindElement(By.Id("submit")).Click();
        wait.Until(d => d.FindElement(By.Id("confirmation")).Displayed);
        var page = driver.FindElement(By.TagName("body")).Text;
        Assert.Contains("Your preferences have been recorded.", page, StringComparison.Ordinal);
        foreach (var typed in new[] { "Ysolde", "Quenneville", "7946", "ysolde" })
        {
            Assert.DoesNotContain(typed, page, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(typed, driver.PageSource, StringComparison.OrdinalIgnoreCase);
        }
        browser.Screenshot("confirmation");
        Assert.Equal(before + 1, await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM dnc_preferences"));
    }

    private static void Fill(OpenQA.Selenium.Chrome.ChromeDriver driver, string id, string value)
    {
        var input = driver.FindElement(By.Id(id));
        input.Clear();
        input.SendKeys(value);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
