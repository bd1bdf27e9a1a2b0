namespace Pii.EtlWorker.Etl;

/// <summary>
/// Runs passes forever: migrate once, then a pass, then a pause, and again. A failed pass (a database or the key
/// service unreachable) is logged by exception type only — messages can carry values — and retried after a backoff;
/// nothing was committed for the batch that failed, so the retry resumes exactly at the watermark.
/// </summary>
public sealed partial class EtlBackgroundService(SuppressionStore target, EtlPass pass, EtlOptions options, ILogger<EtlBackgroundService> logger) : BackgroundService
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = options.PollInterval;
        var migrated = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!migrated)
                {
                    await target.MigrateAsync(stoppingToken).ConfigureAwait(false);
                    migrated = true;
                }

                var result = await pass.RunAsync(printer: null, stoppingToken).ConfigureAwait(false);
                if (result.Read + result.Erased > 0)
                {
                    LogPass(result.Read, result.Loaded, result.Quarantined, result.Erased);
                }

                backoff = options.PollInterval;
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogPassFailed(e.GetType().Name);
                backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, Math.Max(options.PollInterval.Ticks, backoff.Ticks * 2)));
            }

            try
            {
                await Task.Delay(backoff, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "ETL pass: {Read} read, {Loaded} loaded, {Quarantined} quarantined, {Erased} erasures applied")]
    private partial void LogPass(int read, int loaded, int quarantined, int erased);

    [LoggerMessage(Level = LogLevel.Error, Message = "ETL pass failed ({ExceptionType}); retrying after a backoff")]
    private partial void LogPassFailed(string exceptionType);
}
