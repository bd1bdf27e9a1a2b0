using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pii.EtlWorker.Etl;

namespace Pii.EtlWorker.Tests;

/// <summary>
/// The real worker (its Program and wiring) against the fixture's servers, with the configuration the AppHost would
/// inject. The background loop is removed so a test drives passes itself through <see cref="Pass"/>.
/// Every log line (all levels, all categories) is captured so tests can prove no value leaks into logs.
/// </summary>
public sealed class WorkerFactory(EtlFixture fixture, params (string Key, string Value)[] settings) : WebApplicationFactory<EtlPass>
{
    public const string DialerKey = "pii_dialer-test-key";
    public const string AuditorKey = "pii_auditor-test-key";

    public ConcurrentQueue<string> Logs { get; } = new();

    public EtlPass Pass => Services.GetRequiredService<EtlPass>();

    public SuppressionStore Store => Services.GetRequiredService<SuppressionStore>();

    public static IReadOnlyDictionary<string, string> Environment(EtlFixture fixture) => new Dictionary<string, string>
    {
        ["ConnectionStrings__dnc"] = fixture.SourceConnectionString,
        ["ConnectionStrings__analytics"] = fixture.TargetConnectionString,
        ["VAULT_ADDR"] = fixture.VaultAddress,
        ["services__vault__http__0"] = fixture.VaultAddress,
        ["VAULT_TOKEN"] = fixture.EtlToken,
        ["Auth__ApiKeyHashes__dialer"] = Pii.AppHost.Hosting.ApiKeys.Hash(DialerKey),
        ["Etl__SettleWindow"] = "00:00:00",
    };

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in Environment(fixture))
        {
            builder.UseSetting(key.Replace("__", ":", StringComparison.Ordinal), value);
        }

        builder.UseSetting("Auth:ApiKeyHashes:auditor", Pii.AppHost.Hosting.ApiKeys.Hash(AuditorKey));
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Trace);
            logging.AddProvider(new CapturingLoggerProvider(Logs));
        });
        builder.ConfigureServices(services =>
        {
            var loop = services.Single(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(EtlBackgroundService));
            services.Remove(loop);
        });
    }

    private sealed class CapturingLoggerProvider(ConcurrentQueue<string> logs) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, logs);

        public void Dispose()
        {
        }
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<string> logs) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull
        {
            logs.Enqueue($"{category} scope: {state}");
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            logs.Enqueue($"{category} {logLevel}: {formatter(state, exception)} {exception}");
    }
}
