using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Pii.Services.Shared;

/// <summary>The <c>&lt;Service&gt;:DekRotation</c> section: how often the DEK age policy runs, and the age it enforces.</summary>
internal sealed class DekRotationOptions
{
    /// <summary>Time between two runs of the age policy (each also refreshes the oldest-DEK gauge).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// An active DEK this old is retired and replaced (NIST SP 800-57 allows up to two years of originator use for a
    /// data-encryption key; a month keeps the data under any one DEK small). Retired DEKs keep decrypting.
    /// </summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(30);
}

/// <summary>What a service's DEK table needs for the scheduled age policy.</summary>
internal interface IDekAgePolicy
{
    /// <summary>Retires (and replaces) every active DEK created at or before <paramref name="createdBefore"/>; returns how many.</summary>
    Task<int> RotateCreatedBeforeAsync(DateTimeOffset createdBefore, CancellationToken cancellationToken);

    /// <summary>When the oldest active DEK was created; null when no DEK is active.</summary>
    Task<DateTimeOffset?> OldestActiveAsync(CancellationToken cancellationToken);
}

/// <summary>Gauge <c>&lt;service&gt;.dek.oldest_active_age_seconds</c>: how long the oldest active DEK has existed, as of the last scheduled run.</summary>
internal sealed class DekAgeGauge
{
    private const long None = long.MinValue;
    private readonly TimeProvider _time;
    private long _oldestTicks = None;

    public DekAgeGauge(IMeterFactory meters, string meterName, string instrumentName, TimeProvider time)
    {
        _time = time;
        meters.Create(meterName).CreateObservableGauge(instrumentName, Observe, unit: "s",
            description: "Age of the oldest active (not retired) DEK; above the configured MaxAge means the rotation schedule is not running");
    }

    public void Set(DateTimeOffset? oldest) => Interlocked.Exchange(ref _oldestTicks, oldest?.UtcTicks ?? None);

    // The creation time is cached and the age computed at collection: the gauge keeps rising between runs, as the DEK ages.
    private IEnumerable<Measurement<double>> Observe()
    {
        long ticks = Interlocked.Read(ref _oldestTicks);
        return ticks == None ? [] : [new Measurement<double>((_time.GetUtcNow().UtcTicks - ticks) / (double)TimeSpan.TicksPerSecond)];
    }
}

/// <summary>Runs the DEK age policy every <see cref="DekRotationOptions.Interval"/>, from start-up on.</summary>
internal sealed partial class DekRotationScheduler(
    IDekAgePolicy policy, DekAgeGauge gauge, IOptions<DekRotationOptions> options, TimeProvider time, ILogger<DekRotationScheduler> logger) : BackgroundService
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        while (true)
        {
            bool ranPolicy = await TryAsync(() => RotateAsync(settings.MaxAge, stoppingToken), stoppingToken);
            // Refreshed even when rotating failed, so the gauge still shows the over-age DEK an alert should catch.
            bool measured = await TryAsync(async () => gauge.Set(await policy.OldestActiveAsync(stoppingToken)), stoppingToken);
            var wait = (ranPolicy && measured) || settings.Interval < MaxRetryDelay ? settings.Interval : MaxRetryDelay;
            await Task.Delay(wait, time, stoppingToken);
        }
    }

    private async Task RotateAsync(TimeSpan maxAge, CancellationToken cancellationToken)
    {
        int rotated = await policy.RotateCreatedBeforeAsync(time.GetUtcNow() - maxAge, cancellationToken);
        if (rotated > 0)
        {
            LogRotated(logger, rotated, maxAge);
        }
    }

    // A database or key service outage (timeouts included) is logged by type name only (never data) and retried well
    // before the next period; letting it escape would stop the host.
    private async Task<bool> TryAsync(Func<Task> step, CancellationToken stoppingToken)
    {
        try
        {
            await step();
            return true;
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogFailed(logger, e.GetType().Name);
            return false;
        }
    }

    [LoggerMessage(LogLevel.Information, "DEK age policy retired {Count} DEKs older than {MaxAge}")]
    private static partial void LogRotated(ILogger logger, int count, TimeSpan maxAge);

    [LoggerMessage(LogLevel.Warning, "DEK age policy run failed: {ErrorType}; retrying")]
    private static partial void LogFailed(ILogger logger, string errorType);
}

internal static class DekRotationServices
{
    /// <summary>Binds <c>&lt;section&gt;:DekRotation</c> (validated at start) for the services that read <see cref="DekRotationOptions.MaxAge"/>.</summary>
    public static IServiceCollection AddDekRotationOptions(this IServiceCollection services, IConfiguration configuration, string section)
    {
        services.AddOptions<DekRotationOptions>().Bind(configuration.GetSection(section + ":DekRotation"))
            .Validate(o => o.Interval > TimeSpan.Zero && o.MaxAge > TimeSpan.Zero, $"{section}:DekRotation:Interval and MaxAge must be positive.")
            .ValidateOnStart();
        return services;
    }

    /// <summary>The scheduled age policy over <typeparamref name="TPolicy"/> and its gauge <paramref name="gaugeName"/> on meter <paramref name="meterName"/>.</summary>
    public static IServiceCollection AddDekRotationSchedule<TPolicy>(this IServiceCollection services, string meterName, string gaugeName)
        where TPolicy : class, IDekAgePolicy
    {
        services.AddSingleton<IDekAgePolicy, TPolicy>();
        services.AddSingleton(sp => new DekAgeGauge(sp.GetRequiredService<IMeterFactory>(), meterName, gaugeName, sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService<DekRotationScheduler>();
        return services;
    }
}
