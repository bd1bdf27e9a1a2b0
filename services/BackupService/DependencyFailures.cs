using Amazon.Runtime;
using Pii.BackupService.Backups;
using Pii.Crypto.Transit;

namespace Pii.BackupService;

/// <summary>
/// A dependency (S3, key service, a database) that is down or refuses becomes a 503 problem with a stable title and no
/// internals; a stored record that fails authentication is a 503 too (the store is not trustworthy right now).
/// </summary>
internal sealed class DependencyFailureFilter(ILogger<DependencyFailureFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (Exception e) when (Describe(e) is { } title && !context.HttpContext.RequestAborted.IsCancellationRequested)
        {
            Log.BackgroundFailed(logger, context.HttpContext.GetEndpoint()?.DisplayName ?? "request", e.GetType().Name);
            return TypedResults.Problem(title: title, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static string? Describe(Exception e) => e switch
    {
        TransitException => "The key service is unavailable.",
        AmazonServiceException => "Object storage is unavailable.",
        System.Data.Common.DbException => "A database is unavailable.",
        InvalidRecordException => "A stored backup record failed authentication.",
        HttpRequestException or TimeoutException or TaskCanceledException { InnerException: TimeoutException } => "A dependency is unavailable.",
        _ => null,
    };
}
