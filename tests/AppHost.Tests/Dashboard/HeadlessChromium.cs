using OpenQA.Selenium.Chrome;
using Pii.AppHost.Hosting;

namespace Pii.AppHost.Tests.Dashboard;

/// <summary>
/// Headless Debian Chromium driven by Selenium exactly as PLATFORM.md verified it: installs chromium and
/// chromium-driver through the launcher's prerequisite code, fixed binary and driver paths (Selenium Manager never
/// downloads anything), a fresh profile per browser. Screenshots go to TestResults/screenshots at the repository root.
/// </summary>
public sealed class HeadlessChromium : IDisposable
{
    private readonly string _profile;

    private HeadlessChromium(string profile, ChromeDriver driver)
    {
        _profile = profile;
        Driver = driver;
    }

    public ChromeDriver Driver { get; }

    public static async Task<HeadlessChromium> StartAsync()
    {
        await Prerequisites.EnsureAptPackagesAsync(["chromium", "chromium-driver"], Console.Out);
        var profile = Directory.CreateTempSubdirectory("pii-chromium-").FullName;
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--window-size=1400,900", $"--user-data-dir={profile}");
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.HideCommandPromptWindow = true;
        return new HeadlessChromium(profile, new ChromeDriver(service, options, TimeSpan.FromSeconds(60)));
    }

    public void Screenshot(string name)
    {
        var directory = Path.Combine(RepositoryRoot(), "TestResults", "screenshots");
        Directory.CreateDirectory(directory);
        Driver.GetScreenshot().SaveAsFile(Path.Combine(directory, $"dashboard-{name}.png"));
    }

    public void Dispose()
    {
        Driver.Quit();
        Driver.Dispose();
        Directory.Delete(_profile, recursive: true);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "PiiAspire.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? AppContext.BaseDirectory;
    }
}
