using System.Diagnostics;
using System.Runtime.InteropServices;
using Pii.AppHost.Hosting;

namespace Pii.Testing;

/// <summary>
/// A SoftHSM2 installation of its own in a temp folder: Debian <c>softhsm2</c> installed through the launcher's
/// prerequisite code, a config file whose token directory is private to this instance, and tokens made with
/// <c>softhsm2-util --init-token --free</c>. Processes see it through <see cref="Environment"/> (SOFTHSM2_CONF).
/// Shared as linked source by the tests that need an HSM.
/// </summary>
public sealed class SoftHsm : IDisposable
{
    public const string LibraryPath = "/usr/lib/softhsm/libsofthsm2.so";

    private SoftHsm(string directory)
    {
        Directory = directory;
        ConfigPath = Path.Combine(directory, "softhsm2.conf");
    }

    public string Directory { get; }

    public string ConfigPath { get; }

    /// <summary>The variables a process needs to use this instance's tokens.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["SOFTHSM2_CONF"] = ConfigPath };

    public static async Task<SoftHsm> CreateAsync()
    {
        await Prerequisites.EnsureAptPackagesAsync(["softhsm2"], Console.Out);
        var directory = System.IO.Directory.CreateTempSubdirectory("pii-softhsm-").FullName;
        var tokens = System.IO.Directory.CreateDirectory(Path.Combine(directory, "tokens")).FullName;
        var hsm = new SoftHsm(directory);
        await File.WriteAllTextAsync(hsm.ConfigPath, $"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n");
        return hsm;
    }

    /// <summary>Initialises a new token in the first free slot.</summary>
    public async Task InitTokenAsync(string label, string soPin, string userPin)
    {
        var start = new ProcessStartInfo("softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", soPin, "--pin", userPin])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["SOFTHSM2_CONF"] = ConfigPath;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"softhsm2-util --init-token failed ({process.ExitCode}): {await stdout} {await stderr}");
        }
    }

    /// <summary>
    /// Points this process's SoftHSM2 at this instance. The module reads SOFTHSM2_CONF with the C library's getenv at
    /// C_Initialize, and .NET's Environment.SetEnvironmentVariable does not reach that on Linux, so setenv(3) is called too.
    /// </summary>
    public void UseInThisProcess()
    {
        System.Environment.SetEnvironmentVariable("SOFTHSM2_CONF", ConfigPath);
        if (SetEnv("SOFTHSM2_CONF", ConfigPath, 1) != 0)
        {
            throw new InvalidOperationException("setenv(SOFTHSM2_CONF) failed.");
        }
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);

    // DllImport rather than LibraryImport: the generated marshalling needs unsafe code in every project linking this file.
    [DllImport("libc", EntryPoint = "setenv", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int SetEnv(string name, string value, int overwrite);
}
