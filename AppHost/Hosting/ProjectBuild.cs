using System.Diagnostics;
using System.Text.Json;
using System.Xml.Linq;

namespace Pii.AppHost.Hosting;

/// <summary>
/// Builds every project resource once, up front, in a single <c>dotnet build</c> of a generated solution filter
/// (as DCP runs projects: build, then run the output without a launch profile). Progress lines ("X -> path") are
/// shown; a machine-wide lock keeps parallel test assemblies from building the same projects at once.
/// </summary>
public sealed class ProjectBuild(string repoRoot, TextWriter progress, bool enabled)
{
    private static readonly string LockPath = Path.Combine(Path.GetTempPath(), "piiaspire-project-build.lock");
    private static readonly SemaphoreSlim InProcess = new(1, 1);
    private readonly List<string> _projects = [];
    private readonly object _gate = new();
    private Task? _build;

    public string Configuration { get; } = DetectConfiguration();

    /// <summary>Registers a project (path relative to the repository root) and returns the dll its build produces.</summary>
    public string Register(string relativeProjectPath)
    {
        var projectPath = Path.Combine(repoRoot, relativeProjectPath);
        if (!File.Exists(projectPath)) throw new FileNotFoundException($"Project not found: {projectPath}");
        lock (_gate)
        {
            if (!_projects.Contains(relativeProjectPath)) _projects.Add(relativeProjectPath);
        }
        return OutputOf(projectPath);
    }

    public Task EnsureBuiltAsync(CancellationToken cancellationToken)
    {
        lock (_gate) return _build ??= BuildAsync(cancellationToken);
    }

    private async Task BuildAsync(CancellationToken cancellationToken)
    {
        if (!enabled) return;
        string[] projects;
        lock (_gate) projects = [.. _projects];
        await InProcess.WaitAsync(cancellationToken);
        try
        {
            using var held = await AcquireMachineLockAsync(cancellationToken);
            if (projects.All(IsUpToDate))
            {
                progress.WriteLine($"{projects.Length} projects are up to date (no source newer than its output); not building.");
                return;
            }
            var filter = Path.Combine(Path.GetTempPath(), $"piiaspire-build-{Environment.ProcessId}-{Guid.NewGuid():N}.slnf");
            await File.WriteAllTextAsync(filter, JsonSerializer.Serialize(new
            {
                solution = new { path = Path.Combine(repoRoot, "PiiAspire.sln"), projects },
            }), cancellationToken);
            try
            {
                progress.WriteLine($"Building {projects.Length} projects ({Configuration}): {string.Join(", ", projects.Select(Path.GetFileNameWithoutExtension))}…");
                var clock = Stopwatch.StartNew();
                await RunBuildAsync(filter, cancellationToken);
                progress.WriteLine($"Built in {clock.Elapsed.TotalSeconds:0.0} s.");
            }
            finally
            {
                File.Delete(filter);
            }
        }
        finally
        {
            InProcess.Release();
        }
    }

    /// <summary>
    /// A fast up-to-date check (like an IDE's): the output exists and no input — files of the project folder, of its
    /// project references (recursively), its linked sources, and the repository-wide build files — is newer. An
    /// incremental <c>dotnet build</c> that changes nothing still costs 10-20 s of a 2-core machine's cold start.
    /// </summary>
    private bool IsUpToDate(string relativeProjectPath)
    {
        var projectPath = Path.Combine(repoRoot, relativeProjectPath);
        var output = OutputOf(projectPath);
        if (!File.Exists(output)) return false;
        var built = File.GetLastWriteTimeUtc(output);
        var inputs = new List<string> { "Directory.Build.props", "Directory.Packages.props", "global.json" };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        CollectInputs(projectPath, inputs, seen);
        return inputs.Select(i => Path.Combine(repoRoot, i)).Where(File.Exists).All(i => File.GetLastWriteTimeUtc(i) <= built);
    }

    private static void CollectInputs(string projectPath, List<string> inputs, HashSet<string> seen)
    {
        if (!seen.Add(Path.GetFullPath(projectPath))) return;
        var directory = Path.GetDirectoryName(projectPath)!;
        inputs.AddRange(Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => !IsUnder(f, directory, "bin") && !IsUnder(f, directory, "obj") && !IsUnder(f, directory, "node_modules")));
        var project = XDocument.Load(projectPath);
        foreach (var element in project.Descendants().Where(e => e.Name.LocalName is "ProjectReference" or "Compile"))
        {
            var include = element.Attribute("Include")?.Value;
            if (include is null || !include.StartsWith("..", StringComparison.Ordinal)) continue;
            var path = Path.GetFullPath(Path.Combine(directory, include.Replace('\\', '/')));
            if (element.Name.LocalName == "ProjectReference") CollectInputs(path, inputs, seen);
            else inputs.Add(path);
        }
    }

    private static bool IsUnder(string file, string directory, string folder) =>
        file.StartsWith(Path.Combine(directory, folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private string OutputOf(string projectPath)
    {
        var assemblyName = XDocument.Load(projectPath).Descendants("AssemblyName").FirstOrDefault()?.Value
            ?? Path.GetFileNameWithoutExtension(projectPath);
        return Path.Combine(Path.GetDirectoryName(projectPath)!, "bin", Configuration, "net10.0", assemblyName + ".dll");
    }

    private async Task RunBuildAsync(string filter, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = repoRoot,
        };
        foreach (var argument in (string[])["build", filter, "-c", Configuration, "-v:m", "-nologo", "-clp:NoSummary", "--disable-build-servers", "-nodeReuse:false"]) info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start dotnet build.");
        var output = new List<string>();
        async Task PumpAsync(StreamReader reader)
        {
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                lock (output) output.Add(line);
                if (line.Contains(" -> ", StringComparison.Ordinal) || line.Contains("error", StringComparison.OrdinalIgnoreCase))
                {
                    progress.WriteLine("  " + line.Trim());
                }
            }
        }
        // Stopping the AppHost mid-build must not leave the build running.
        await using var kill = cancellationToken.Register(() => process.Kill(entireProcessTree: true));
        await Task.WhenAll(PumpAsync(process.StandardOutput), PumpAsync(process.StandardError), process.WaitForExitAsync(cancellationToken));
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet build failed (exit code {process.ExitCode}):{Environment.NewLine}{string.Join(Environment.NewLine, output.TakeLast(30))}");
        }
    }

    private static async Task<IDisposable> AcquireMachineLockAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                await Task.Delay(250, cancellationToken);
            }
        }
    }

    /// <summary>Build the services in the configuration the AppHost itself was built in (bin/&lt;Configuration&gt;/net10.0).</summary>
    private static string DetectConfiguration()
    {
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = framework.Parent?.Name;
        return configuration is "Debug" or "Release" ? configuration : "Debug";
    }
}
