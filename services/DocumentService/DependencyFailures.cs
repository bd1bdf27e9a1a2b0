using Amazon.Runtime;
using Amazon.S3;
using Npgsql;
using Pii.Crypto;
using Pii.DocumentService.Documents;
using Pii.Services.Shared;

namespace Pii.DocumentService;

/// <summary>
/// Dependency and integrity failures become problem details with a stable <c>type</c> (<see cref="ServiceProblems"/>):
/// a dependency (key service, S3, PostgreSQL) that is down or answers with an error is a 503; a stored record or object
/// that fails authentication, is missing or is shorter than its metadata is a 502 integrity failure, titled for what
/// failed (document or patient record). No internals in either. When a response has already started streaming, the
/// connection is aborted instead, so a client never takes a truncated body for a whole one.
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
        catch (InvalidDataException) when (!context.HttpContext.Response.HasStarted)
        {
            // MultipartReader's complaint about the body (its message quotes the offending line: never logged or returned).
            context.HttpContext.Response.Clear();
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["body"] = [DocumentsApi.MalformedMultipart] });
        }
        catch (Exception e) when (Classify(e, context.HttpContext) is { } problem)
        {
            var http = context.HttpContext;
            if (http.RequestAborted.IsCancellationRequested)
            {
                Log.ClientGone(logger, http.Request.Path.Value ?? "");
                return Results.Empty;
            }
            Log.DependencyFailed(logger, problem.Title, e.GetType().Name, http.Request.Method, http.GetEndpoint()?.DisplayName);
            if (http.Response.HasStarted)
            {
                http.Abort();
                return Results.Empty;
            }
            // Headers already set for the download (Content-Length, Content-Range, disposition) must not describe the problem body.
            http.Response.Clear();
            return problem.ToResult();
        }
    }

    public static ServiceProblem? Classify(Exception e, HttpContext http) => e switch
    {
        CryptoException or AmazonS3Exception { ErrorCode: "NoSuchKey" or "InvalidRange" } => ServiceProblems.IntegrityFailure(IsDocumentRoute(http)
            ? "The stored document failed its integrity check."
            : "The stored patient record failed its integrity check."),
        AmazonServiceException => ServiceProblems.Unavailable("Object storage is unavailable."),
        NpgsqlException => ServiceProblems.Unavailable("The database is unavailable."),
        OperationCanceledException and not TaskCanceledException { InnerException: TimeoutException } or IOException
            => ServiceProblems.Unavailable("The request was interrupted."),
        _ => ServiceProblems.Classify(e),
    };

    private static bool IsDocumentRoute(HttpContext http) =>
        http.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } pattern } && pattern.Contains("documents", StringComparison.Ordinal);
}
