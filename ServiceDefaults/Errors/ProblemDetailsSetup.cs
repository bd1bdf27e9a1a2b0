using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Pii.ServiceDefaults.Errors;

/// <summary>
/// Every error response is RFC 9457 problem details without exception text or stack trace: unhandled exceptions
/// (UseExceptionHandler), bodiless 4xx/5xx (UseStatusCodePages), and — because AppHost runs services in Development —
/// the developer exception page too, which would otherwise print the stack trace.
/// </summary>
internal static class ProblemDetailsSetup
{
    public static IServiceCollection AddProblemDetailsEverywhere(this IServiceCollection services)
    {
        services.AddProblemDetails();
        services.AddSingleton<IStartupFilter, ProblemDetailsStartupFilter>();
        services.AddSingleton<IDeveloperPageExceptionFilter, ProblemDetailsDeveloperPageFilter>();
        return services;
    }

    /// <summary>Bad request input keeps its 4xx; everything else is a plain 500.</summary>
    public static int StatusCodeFor(Exception exception) =>
        exception is BadHttpRequestException badRequest ? badRequest.StatusCode : StatusCodes.Status500InternalServerError;
}

internal sealed class ProblemDetailsStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions { StatusCodeSelector = ProblemDetailsSetup.StatusCodeFor });
        app.UseStatusCodePages();
        next(app);
    };
}

/// <summary>
/// Replaces the developer exception page's output with the same problem details production gives: the service's
/// <see cref="IExceptionHandler"/>s first (as UseExceptionHandler runs them in production), then a plain 500.
/// </summary>
internal sealed class ProblemDetailsDeveloperPageFilter(IProblemDetailsService problemDetails, IEnumerable<IExceptionHandler> handlers) : IDeveloperPageExceptionFilter
{
    public async Task HandleExceptionAsync(ErrorContext errorContext, Func<ErrorContext, Task> next)
    {
        var context = errorContext.HttpContext;
        foreach (var handler in handlers)
        {
            if (await handler.TryHandleAsync(context, errorContext.Exception, context.RequestAborted)) return;
        }
        var status = ProblemDetailsSetup.StatusCodeFor(errorContext.Exception);
        context.Response.StatusCode = status;
        await problemDetails.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status },
        });
    }
}
