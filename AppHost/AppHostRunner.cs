using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Pii.AppHost.Hosting;

namespace Pii.AppHost;

/// <summary>
/// The AppHost's life cycle around the model Program.cs declares: command line, <c>.pii/</c> folders and secrets,
/// prerequisites, dashboard, start with timing, status file, and Ctrl+C / SIGTERM shutdown.
/// </summary>
/// <remarks>
/// Command line: <c>--reset</c> (wipe .pii after confirmation), <c>--yes</c> (confirm), <c>--no-build</c>,
/// <c>--data-dir PATH</c> (instead of &lt;repo&gt;/.pii), <c>--status-file PATH</c> (JSON snapshot of every resource,
/// rewritten as states change), and any configuration key as <c>--Key=Value</c>, e.g.
/// <c>--Dashboard:UiUrl=http://localhost:19888 --Dashboard:OtlpUrl=http://localhost:19890</c> or
/// <c>--Resources:vault:Url=https://vault.example:8200</c>.
/// </remarks>
public sealed class AppHostRunner : IDisposable
{
    private const string LockFileName = "apphost.lock";
    private readonly TextWriter _out = Console.Out;
    private TimeSpan? _ready;
    private FileStream? _instanceLock;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private AppHostRunner(string[] args)
    {
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--reset": Reset = true; break;
                case "--yes": Confirmed = true; break;
                case "--no-build": NoBuild = true; break;
                case "--data-dir" when i + 1 < args.Length: PiiRoot = Path.GetFullPath(args[++i]); break;
                case "--status-file" when i + 1 < args.Length: StatusFile = Path.GetFullPath(args[++i]); break;
                default: rest.Add(args[i]); break;
            }
        }
        RepoRoot = AppModel.FindRepoRoot();
        PiiRoot ??= Path.Combine(RepoRoot, ".pii");
        Configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine([.. rest])
            .Build();
    }

    public bool Reset { get; }

    public bool Confirmed { get; }

    public bool NoBuild { get; }

    public string RepoRoot { get; }

    public string PiiRoot { get; }

    public string? StatusFile { get; }

    public IConfiguration Configuration { get; }

    public DashboardSettings Dashboard { get; private set; } = null!;

    public ApiKeys ApiKeys { get; private set; } = null!;

    public static AppHostRunner Parse(string[] args) => new(args);

    public void Dispose() => _instanceLock?.Dispose();

    /// <summary>Handles --reset; creates the folders and the dashboard credentials; returns the model to fill in, or null
    /// (after saying why) when the AppHost cannot start.</summary>
    public AppModel? TryCreateModel()
    {
        try
        {
            return CreateModel();
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or IOException)
        {
            Console.Error.WriteLine(e.Message);
            return null;
        }
    }

    private AppModel CreateModel()
    {
        _out.WriteLine($"PiiAspire AppHost — data in {PiiRoot}");
        Directory.CreateDirectory(PiiRoot);
        try
        {
            // Held for the AppHost's lifetime: two AppHosts on one data folder would fight over the servers' data.
            _instanceLock = new FileStream(Path.Combine(PiiRoot, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new InvalidOperationException($"Another AppHost is running on {PiiRoot}; stop it first (or use --data-dir).");
        }
        if (Reset) WipeAfterConfirmation();
        var secrets = new SecretStore(Path.Combine(PiiRoot, "secrets"), Configuration);
        Dashboard = new DashboardSettings(
            Configuration["Dashboard:UiUrl"] ?? "http://localhost:18888",
            Configuration["Dashboard:OtlpUrl"] ?? "http://localhost:18890",
            secrets.GetOrCreate("dashboard-token"),
            secrets.GetOrCreate("otlp-api-key"));
        ApiKeys = new ApiKeys(secrets);
        return new AppModel(new AppModelOptions
        {
            RepoRoot = RepoRoot,
            DataRoot = Path.Combine(PiiRoot, "data"),
            SecretsRoot = secrets.Directory,
            Configuration = Configuration,
            Progress = _out,
            OtlpEndpoint = Dashboard.OtlpUrl,
            OtlpApiKey = Dashboard.OtlpApiKey,
            EnvironmentName = Configuration["Services:Environment"] ?? "Development",
            BuildProjects = !NoBuild,
        });
    }

    private void WipeAfterConfirmation()
    {
        if (!Confirmed)
        {
            _out.Write($"--reset deletes {PiiRoot} (all data and generated secrets). Type 'yes' to continue: ");
            if (!string.Equals(Console.ReadLine()?.Trim(), "yes", StringComparison.Ordinal))
            {
                throw new OperationCanceledException("Reset not confirmed; nothing deleted.");
            }
        }
        foreach (var entry in new DirectoryInfo(PiiRoot).EnumerateFileSystemInfos().Where(e => e.Name != LockFileName))
        {
            if (entry is DirectoryInfo directory) directory.Delete(recursive: true);
            else entry.Delete();
        }
        _out.WriteLine($"Deleted the data and secrets in {PiiRoot}.");
    }

    /// <summary>Runs the model until Ctrl+C or SIGTERM; returns the process exit code.</summary>
    public async Task<int> RunAsync(AppModel model)
    {
        using var shutdown = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!shutdown.IsCancellationRequested) _out.WriteLine($"{Environment.NewLine}{context.Signal} received: stopping every resource…");
            shutdown.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        if (!await EnsurePrerequisitesAsync(model, shutdown.Token)) return 1;
        await using var launcher = model.Build();
        var leftovers = await launcher.Registry!.StopLeftoversAsync(launcher.StopGrace);
        if (leftovers > 0) _out.WriteLine($"Stopped {leftovers} processes left running by an AppHost that was killed.");
        await using var dashboard = await DashboardHosting.StartDashboardAsync(Dashboard, launcher, _out, shutdown.Token);
        var status = StatusFile is null ? Task.CompletedTask : WriteStatusLoopAsync(launcher, shutdown.Token);

        _out.WriteLine($"Starting {launcher.Resources.Count} resources…");
        launcher.Start();
        try
        {
            await launcher.WaitForAllReadyAsync(shutdown.Token);
            _ready = _clock.Elapsed;
            PrintSummary(launcher);
        }
        catch (ResourceFailedException)
        {
            PrintFailures(launcher);
        }
        catch (OperationCanceledException) when (shutdown.IsCancellationRequested)
        {
        }

        try
        {
            await Task.Delay(Timeout.Infinite, shutdown.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await launcher.StopAsync();
        await status;
        if (StatusFile is not null) await WriteStatusAsync(launcher, CancellationToken.None);
        _out.WriteLine("Stopped.");
        return 0;
    }

    /// <summary>Installs missing Debian packages (root) or prints the exact command and fails (non-root).</summary>
    private async Task<bool> EnsurePrerequisitesAsync(AppModel model, CancellationToken cancellationToken)
    {
        var packages = new List<string>();
        if (model.Resources.OfType<PostgresServer>().Any(p => !p.IsExternal)) packages.Add("postgresql-15");
        if (model.Resources.OfType<MariaDbServer>().Any(m => !m.IsExternal)) packages.Add("mariadb-server");
        try
        {
            await Prerequisites.EnsureAptPackagesAsync(packages, _out, cancellationToken);
            return true;
        }
        catch (InvalidOperationException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return false;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("Stopped while installing prerequisites.");
            return false;
        }
    }

    private void PrintSummary(Launcher launcher)
    {
        _out.WriteLine();
        foreach (var resource in launcher.Resources)
        {
            var endpoints = string.Join(" ", resource.Endpoints.Select(e => e.Url));
            _out.WriteLine($"  {resource.Name,-20} {resource.Type,-12} {resource.State} ({resource.Health}) {endpoints}");
        }
        _out.WriteLine();
        _out.WriteLine($"All {launcher.Resources.Count} resources healthy in {_ready!.Value.TotalSeconds:0.0} s.");
        _out.WriteLine($"Dashboard login: {Dashboard.LoginUrl}");
        _out.WriteLine($"Role API keys: {Path.Combine(PiiRoot, "secrets", ApiKeys.FileName)}. Press Ctrl+C to stop.");
    }

    private void PrintFailures(Launcher launcher)
    {
        _out.WriteLine();
        foreach (var resource in launcher.Resources.Where(r => ResourceStates.IsTerminal(r.State)))
        {
            var message = resource.StateMessage ?? "";
            // The root causes in full (with the last console lines); their dependants in one line each.
            _out.WriteLine($"  {resource.Name}: {resource.State} — {(message.StartsWith("dependency ", StringComparison.Ordinal) ? Launcher.FirstLine(message) : message)}");
        }
        _out.WriteLine($"Start-up failed after {_clock.Elapsed.TotalSeconds:0.0} s; the resources that did start keep running. Dashboard login: {Dashboard.LoginUrl}");
        _out.WriteLine("Press Ctrl+C to stop.");
    }

    private async Task WriteStatusLoopAsync(Launcher launcher, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await WriteStatusAsync(launcher, cancellationToken);
                await Task.Delay(250, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static readonly JsonSerializerOptions StatusJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private async Task WriteStatusAsync(Launcher launcher, CancellationToken cancellationToken)
    {
        var status = new
        {
            pid = Environment.ProcessId,
            ready = _ready is not null,
            startupSeconds = _ready?.TotalSeconds,
            dashboard = new { Dashboard.UiUrl, Dashboard.OtlpUrl },
            resources = launcher.GetResources(),
        };
        var temporary = StatusFile + ".tmp";
        await File.WriteAllTextAsync(temporary, JsonSerializer.Serialize(status, StatusJson), cancellationToken);
        File.Move(temporary, StatusFile!, overwrite: true);
    }
}
