using System.Data.Common;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Pii.Crypto;
using Pii.Crypto.Transit;

namespace Pii.Services.Shared;

/// <summary>A failure the services answer with a problem of a stable <c>type</c>, never a bare 500.</summary>
internal sealed record ServiceProblem(int Status, string Type, string Title);

/// <summary>
/// The two deliberate 5xx families, shared as linked source by every service:
/// <list type="bullet">
/// <item><see cref="DependencyUnavailableType"/>, 503: a database, the key service (down, slow, or refusing this
/// service's token) or another dependency failed; retrying later may succeed.</item>
/// <item><see cref="IntegrityFailureType"/>, 502: a stored record or object failed authentication (tampered, moved to
/// another record, truncated, or naming a key that does not exist). 502 Bad Gateway because the service is intact but what
/// its storage handed back is not valid; not 503, which promises that a retry may help, and not 500, which blames this
/// service's code. The response never carries any part of the record.</item>
/// </list>
/// Database failures are matched as <see cref="DbException"/>, the ADO.NET base of every provider's exception
/// (MySqlConnector, Npgsql), so a change of driver keeps them 503.
/// </summary>
internal static class ServiceProblems
{
    public const string DependencyUnavailableType = "urn:piiaspire:problem:dependency-unavailable";
    public const string IntegrityFailureType = "urn:piiaspire:problem:integrity-failure";

    public const string IntegrityFailureTitle = "A stored record failed its integrity check.";

    public static ServiceProblem IntegrityFailure(string title = IntegrityFailureTitle) => new(StatusCodes.Status502BadGateway, IntegrityFailureType, title);

    public static ServiceProblem Unavailable(string title) => new(StatusCodes.Status503ServiceUnavailable, DependencyUnavailableType, title);

    /// <summary>The problem for a dependency or integrity failure; null for anything else (a bug stays a 500).</summary>
    public static ServiceProblem? Classify(Exception exception) => exception switch
    {
        CryptoException => IntegrityFailure(),
        TransitForbiddenException => Unavailable("The key service refused this service's token."),
        TransitException => Unavailable("The key service is unavailable."),
        DbException => Unavailable("The database is unavailable."),
        HttpRequestException or TimeoutException or Polly.Timeout.TimeoutRejectedException => Unavailable("A dependency is unavailable."),
        TaskCanceledException { InnerException: TimeoutException } => Unavailable("A dependency did not answer in time."),
        _ => null,
    };

    public static IResult ToResult(this ServiceProblem problem, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(statusCode: problem.Status, type: problem.Type, title: problem.Title, extensions: extensions);
}

/// <summary>
/// Turns dependency and integrity failures that reach the exception handler into their problem (see
/// <see cref="ServiceProblems"/>); logs only the exception's type and the route, never its message (which may quote
/// request or stored content). Register with <c>services.AddExceptionHandler&lt;ServiceProblemHandler&gt;()</c>.
/// </summary>
internal sealed partial class ServiceProblemHandler(IProblemDetailsService problemDetails, ILogger<ServiceProblemHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (ServiceProblems.Classify(exception) is not { } problem || httpContext.Response.HasStarted) return false;
        LogFailure(logger, problem.Type, exception.GetType().Name, httpContext.Request.Method, httpContext.GetEndpoint()?.DisplayName);
        httpContext.Response.StatusCode = problem.Status;
        return await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = { Status = problem.Status, Type = problem.Type, Title = problem.Title },
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{ProblemType} ({Error}) on {Method} {Route}.")]
    private static partial void LogFailure(ILogger logger, string problemType, string error, string method, string? route);
}
