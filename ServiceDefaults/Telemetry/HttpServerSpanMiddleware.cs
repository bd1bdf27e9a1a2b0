using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;

namespace Pii.ServiceDefaults.Telemetry;

/// <summary>
/// Does what OpenTelemetry.Instrumentation.AspNetCore would: drops health-probe spans, and completes the built-in
/// server span with status code, route, "METHOD route" name and error status (ASPIRE-CONVENTIONS.md §2.3).
/// </summary>
internal sealed class HttpServerSpanMiddleware(RequestDelegate next, IReadOnlyList<string> probePaths)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var activity = context.Features.Get<IHttpActivityFeature>()?.Activity;
        if (activity is null)
        {
            await next(context);
            return;
        }

        if (IsProbe(context.Request.Path))
        {
            // Not recorded = not exported, and children inherit the flag.
            activity.IsAllDataRequested = false;
            activity.ActivityTraceFlags &= ~ActivityTraceFlags.Recorded;
            await next(context);
            return;
        }

        try
        {
            await next(context);
        }
        finally
        {
            Complete(activity, context);
        }
    }

    private bool IsProbe(PathString path)
    {
        foreach (var probe in probePaths)
        {
            if (path.StartsWithSegments(probe, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    private static void Complete(Activity activity, HttpContext context)
    {
        var status = context.Response.StatusCode;
        activity.SetTag("http.response.status_code", status);
        var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
        if (route is not null)
        {
            activity.SetTag("http.route", route);
        }
        activity.DisplayName = route is null ? context.Request.Method : $"{context.Request.Method} {route}";
        if (status >= StatusCodes.Status500InternalServerError)
        {
            activity.SetStatus(ActivityStatusCode.Error);
        }
    }
}

/// <summary>Puts <see cref="HttpServerSpanMiddleware"/> first in every pipeline, before the app's own middleware.</summary>
internal sealed class HttpServerTelemetryStartupFilter(IReadOnlyList<string> probePaths) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseMiddleware<HttpServerSpanMiddleware>(probePaths);
        next(app);
    };
}
