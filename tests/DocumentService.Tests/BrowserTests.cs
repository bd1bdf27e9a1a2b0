using System.Security.Cryptography;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;
using Pii.Testing;

namespace Pii.DocumentService.Tests;

/// <summary>
/// Real headless Chromium (PLATFORM.md settings) on the service's own page: create a patient, upload 50 MB with the
/// progress bar, download it through the page and compare the saved file byte for byte. Screenshots go to
/// TestResults/screenshots at the repository root.
/// </summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class BrowserTests(DocumentServiceFixture fixture)
{
    [Fact]
    public async Task Create_patient_upload_50_MB_and_download_it_identical()
    {
        var work = Directory.CreateTempSubdirectory("pii-docs-browser-").FullName;
        try
        {
            var downloads = Directory.CreateDirectory(Path.Combine(work, "downloads")).FullName;
            var upload = Path.Combine(work, "scan-50MB.bin");
            var content = RandomNumberGenerator.GetBytes(50 * 1024 * 1024);
            await File.WriteAllBytesAsync(upload, content);

            using var browser = await HeadlessChromium.StartAsync("documents", downloads);
            var driver = browser.Driver;
            var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(120));
            driver.Navigate().GoToUrl(fixture.BaseAddress);
            driver.FindElement(By.Id("api-key")).SendKeys(DocumentServiceFixture.ClinicianKey + Keys.Tab);

            var mrn = "WEB-" + Random.Shared.Next(100000, 999999);
            driver.FindElement(By.Id("new-mrn")).SendKeys(mrn);
            driver.FindElement(By.Id("new-name")).SendKeys("Browser Patient");
            driver.FindElement(By.Id("new-ssn")).SendKeys("123-45-6789");
            driver.FindElement(By.Id("new-codes")).SendKeys("E11.9");
            driver.FindElement(By.CssSelector("#create-form button")).Click();
            wait.Until(d => d.FindElement(By.Id("patient-section")).Displayed);
            Assert.Contains("***-**-****", driver.FindElement(By.Id("patient")).Text, StringComparison.Ordinal);
            Assert.DoesNotContain("6789", driver.FindElement(By.Id("patient")).Text, StringComparison.Ordinal);

            driver.FindElement(By.CssSelector("#search-kind option[value=mrn]")).Click();
            driver.FindElement(By.Id("search-value")).SendKeys(mrn);
            driver.FindElement(By.CssSelector("#search-form button")).Click();
            wait.Until(d => d.FindElements(By.CssSelector("#search-results li")).Count == 1);

            driver.FindElement(By.Id("upload-file")).SendKeys(upload);
            driver.FindElement(By.Id("upload-button")).Click();
            var row = wait.Until(d => d.FindElements(By.CssSelector("#documents tbody tr")).FirstOrDefault());
            Assert.Equal("stored", driver.FindElement(By.Id("upload-percent")).Text);
            Assert.Equal("100", driver.FindElement(By.Id("upload-progress")).GetDomProperty("value"));
            Assert.Contains("scan-50MB.bin", row!.Text, StringComparison.Ordinal);
            browser.Screenshot("patient");

            row.FindElement(By.CssSelector("button.download")).Click();
            var saved = Path.Combine(downloads, "scan-50MB.bin");
            wait.Until(_ => File.Exists(saved) && new FileInfo(saved).Length == content.Length
                && !Directory.EnumerateFiles(downloads, "*.crdownload").Any());
            Assert.Equal(content, await File.ReadAllBytesAsync(saved));
            browser.Screenshot("downloaded");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
