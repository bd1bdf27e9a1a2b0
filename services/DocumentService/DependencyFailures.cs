using Amazon.Runtime;
using Npgsql;
using Pii.Crypto;
using Pii.Crypto.Transit;

namespace Pii.DocumentService;

/// <summary>
/// The one deliberate 5xx: a dependency (key service, S3, PostgreSQL) that is down or answers with an error, or a
/// stored object that fails authentication, becomes 503 problem details with a stable title and no internals. When a
/// response has already started streaming, the connection is aborted instead, so a client never takes a truncated
/// body for a whole one.
/// </summary>
internal sealed class DependencyFailureFilter(ILogger<DependencyFailureFilter> logger) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (BadHttpRequestException e) when (!context.HttpContext.Response.HasStarted)
        {
            context.HttpContext.Response.Clear();
            return TypedResults.Problem(title: "The request body could not be read.", statusCode: e.StatusCode);
        }
        catch (Exception e) when (Describe(e) is { } title)
        {
            var http = context.HttpContext;
            if (http.RequestAborted.IsCancellationRequested)
            {
                Log.ClientGone(logger, http.Request.Path.Value ?? "");
                return Results.Empty;
            }
            Log.DependencyFailed(logger, title, e.GetType().Name, http.Request.Method, http.GetEndpoint()?.DisplayName);
            if (http.Response.HasStarted)
            {
                http.Abort();
                return Results.Empty;
            }
            // Headers already set for the download (Content-Length, Content-Range, disposition) must not describe the problem body.
            http.Response.Clear();
            return TypedResults.Problem(title: title, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    public static string? Describe(Exception e) => e switch
    {
        TransitException => "The key service is unavailable.",
        // The key-service client's resilience pipeline (and TransitClient's own) gave up on time.
        Polly.Timeout.TimeoutRejectedException => "The key service is unavailable.",
        AmazonServiceException => "Object storage is unavailable.",
        NpgsqlException => "The database is unavailable.",
        HttpRequestException or TaskCanceledException { InnerException: TimeoutException } => "A dependency is unavailable.",
        CryptoException => "The stored document failed its integrity check.",
        OperationCanceledException or IOException => "The request was interrupted.",
        _ => null,
    };
}
