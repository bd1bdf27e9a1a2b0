using Microsoft.Net.Http.Headers;

namespace Pii.AppHost.Dashboard.Auth;

/// <summary>
/// Guards pages and API: a valid session cookie or <c>Authorization: Bearer &lt;browser token&gt;</c> (compared in
/// constant time). Unauthenticated API calls get 401 problem details; page requests are sent to <c>/login</c>.
/// The login page and its stylesheet are open. No browser token configured = open dashboard.
/// </summary>
internal sealed class DashboardAuthMiddleware(RequestDelegate next, DashboardOptions options, DashboardSessions sessions)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (options.BrowserToken is not { Length: > 0 } token || IsOpen(context.Request.Path) || IsAuthenticated(context, token, sessions))
        {
            await next(context);
            return;
        }

        if (context.Request.Path.StartsWithSegments("/api"))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await TypedResults.Problem("Log in first: a session cookie or an Authorization: Bearer token is required.",
                statusCode: StatusCodes.Status401Unauthorized).ExecuteAsync(context);
            return;
        }
        context.Response.Redirect("/login");
    }

    private static bool IsOpen(PathString path) =>
        path.Equals("/login", StringComparison.OrdinalIgnoreCase) || path.Equals("/static/app.css", StringComparison.OrdinalIgnoreCase);

    internal static bool IsAuthenticated(HttpContext context, string token, DashboardSessions sessions)
    {
        if (sessions.IsValid(context.Request.Cookies[DashboardSessions.CookieName]))
        {
            return true;
        }
        var authorization = context.Request.Headers[HeaderNames.Authorization].ToString();
        const string bearer = "Bearer ";
        return authorization.StartsWith(bearer, StringComparison.OrdinalIgnoreCase)
            && Secrets.FixedTimeEquals(authorization[bearer.Length..].Trim(), token);
    }
}
