using Pii.Kms.Hosting;

namespace Pii.Kms.Transit;

/// <summary>Rotates keys whose <c>auto_rotate_period</c> has elapsed, checking on a fixed interval.</summary>
public sealed partial class AutoRotationService(KmsRuntime runtime, ILogger<AutoRotationService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (runtime.IsSealed)
        {
            return;
        }

        using var timer = new PeriodicTimer(runtime.Settings.AutoRotateCheckInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                foreach (var name in runtime.Keys.RotateDueKeys())
                {
                    LogRotated(logger, name);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e.GetType().Name);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Auto-rotated key {KeyName}")]
    private static partial void LogRotated(ILogger logger, string keyName);

    [LoggerMessage(Level = LogLevel.Error, Message = "Auto-rotation pass failed ({ExceptionType}); will retry")]
    private static partial void LogFailed(ILogger logger, string exceptionType);
}
