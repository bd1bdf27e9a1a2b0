using System.Diagnostics;

namespace Pii.AppHost.Hosting;

/// <summary>
/// Installs what a fresh Debian 12 machine lacks: Debian packages through apt-get (when root) and npm packages
/// from a committed lock file. Every install runs under one machine-wide file lock, because test assemblies
/// run in parallel and apt/npm do not tolerate concurrent runs.
/// </summary>
public static class Prerequisites
{
    // One lock per user: a lock file left in /tmp by root would otherwise refuse every other user.
    private static readonly string LockPath = Path.Combine(Path.GetTempPath(), $"piiaspire-prerequisites-{Environment.UserName}.lock");
    private static readonly SemaphoreSlim InProcess = new(1, 1);

    /// <summary>Ensures each Debian package is installed; throws with the exact command when not root.</summary>
    public static Task EnsureAptPackagesAsync(IReadOnlyList<string> packages, TextWriter? progress = null, CancellationToken cancellationToken = default) =>
        EnsureAptPackagesAsync(packages, IsRoot(), progress, cancellationToken);

    /// <param name="asRoot">Whether apt-get may run. Tests pass false: this machine's sessions run as root, so the
    /// non-root answer cannot otherwise be produced here.</param>
    internal static async Task EnsureAptPackagesAsync(IReadOnlyList<string> packages, bool asRoot, TextWriter? progress, CancellationToken cancellationToken)
    {
        using var held = await AcquireAsync(cancellationToken);
        var missing = new List<string>();
        foreach (var package in packages)
        {
            var status = await RunAsync("dpkg-query", ["-W", "-f=${Status}", package], null, cancellationToken, throwOnFailure: false);
            if (!status.Output.Contains("install ok installed", StringComparison.Ordinal)) missing.Add(package);
        }
        if (missing.Count == 0) return;

        var command = $"apt-get update && apt-get install -y --no-install-recommends {string.Join(' ', missing)}";
        if (!asRoot)
        {
            throw new InvalidOperationException($"Missing Debian packages: {string.Join(", ", missing)}. Run as root: sudo sh -c '{command}'");
        }
        progress?.WriteLine($"Installing Debian packages: {string.Join(", ", missing)} (apt-get)…");
        await RunAsync("apt-get", ["update", "-q"], null, cancellationToken);
        await RunAsync("apt-get", ["install", "-y", "-q", "--no-install-recommends", .. missing], null, cancellationToken,
            environment: new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" });
    }

    /// <summary>Runs <c>npm ci</c> in <paramref name="directory"/> unless its node_modules matches the lock file already.</summary>
    public static async Task EnsureNpmPackagesAsync(string directory, TextWriter? progress = null, CancellationToken cancellationToken = default)
    {
        using var held = await AcquireAsync(cancellationToken);
        var lockFile = Path.Combine(directory, "package-lock.json");
        var stamp = Path.Combine(directory, "node_modules", ".package-lock.json");
        if (File.Exists(stamp) && File.GetLastWriteTimeUtc(stamp) >= File.GetLastWriteTimeUtc(lockFile)) return;

        progress?.WriteLine($"Installing npm packages in {directory} (npm ci)…");
        await RunAsync("npm", ["ci", "--no-audit", "--no-fund"], directory, cancellationToken);
    }

    public static bool IsRoot() => Environment.UserName == "root";

    private static async Task<IDisposable> AcquireAsync(CancellationToken cancellationToken)
    {
        await InProcess.WaitAsync(cancellationToken);
        while (true)
        {
            try
            {
                var stream = new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return new Held(stream);
            }
            catch (IOException)
            {
                await Task.Delay(250, cancellationToken);
            }
        }
    }

    private sealed class Held(FileStream stream) : IDisposable
    {
        public void Dispose()
        {
            stream.Dispose();
            InProcess.Release();
        }
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IReadOnlyList<string> arguments, string? workingDirectory,
        CancellationToken cancellationToken, bool throwOnFailure = true, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        if (environment is not null)
        {
            foreach (var (key, value) in environment) info.Environment[key] = value;
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = await stdout + await stderr;
        if (throwOnFailure && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}: {Tail(output)}");
        }
        return (process.ExitCode, output);
    }

    private static string Tail(string text) => text.Length <= 2000 ? text : text[^2000..];
}
