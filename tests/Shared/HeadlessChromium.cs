using OpenQA.Selenium.Chrome;
using Pii.AppHost.Hosting;

namespace Pii.Testing;

/// <summary>
/// Headless Chromium exactly as PLATFORM.md verified it (Debian chromium + chromedriver; never lets Selenium Manager
/// download anything), with a fresh profile per instance. Screenshots go to TestResults/screenshots at the repository
/// root as <c>&lt;prefix&gt;-&lt;name&gt;.png</c>. Shared as linked source by the browser tests of several projects;
/// <see cref="StartAsync"/> installs chromium and chromium-driver through the launcher's prerequisite code first.
/// </summary>
public sealed class HeadlessChromium : IDisposable
{
    private readonly string _profile = Directory.CreateTempSubdirectory("pii-chromium-").FullName;
    private readonly string _screenshotPrefix;

    private HeadlessChromium(string screenshotPrefix, string? downloadDirectory)
    {
        _screenshotPrefix = screenshotPrefix;
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--window-size=1400,900", $"--user-data-dir={_profile}");
        if (downloadDirectory is not null)
        {
            options.AddUserProfilePreference("download.default_directory", downloadDirectory);
            options.AddUserProfilePreference("download.prompt_for_download", false);
        }
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.HideCommandPromptWindow = true;
        Driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }

    public ChromeDriver Driver { get; }

    /// <param name="downloadDirectory">Where downloads land without a prompt (null: Chromium's default).</param>
    public static async Task<HeadlessChromium> StartAsync(string screenshotPrefix, string? downloadDirectory = null)
    {
        await Prerequisites.EnsureAptPackagesAsync(["chromium", "chromium-driver"], Console.Out);
        return new HeadlessChromium(screenshotPrefix, downloadDirectory);
    }

    /// <summary>Saves a screenshot; returns its path.</summary>
    public string Screenshot(string name)
    {
        var directory = Path.Combine(RepositoryRoot(), "TestResults", "screenshots");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{_screenshotPrefix}-{name}.png");
        Driver.GetScreenshot().SaveAsFile(path);
        return path;
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
