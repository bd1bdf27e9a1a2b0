using Microsoft.AspNetCore.Http.HttpResults;
using Pii.AppHost.Dashboard.Web;

namespace Pii.AppHost.Dashboard.Auth;

/// <summary>
/// <c>GET /login?t=&lt;token&gt;</c> (the printed URL) or the form's <c>POST /login</c>: a correct token sets the session
/// cookie (HttpOnly, SameSite=Strict, 3 days) and redirects home, so the token leaves the address bar at once.
/// </summary>
public static class LoginEndpoints
{
    public static IEndpointRouteBuilder MapLogin(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/login", Results<RedirectHttpResult, ContentHttpResult> (string? t, HttpContext context, DashboardOptions options, DashboardSessions sessions) =>
            t is null ? DashboardPages.LoginPage(null) : TryLogin(t, context, options, sessions));
        endpoints.MapPost("/login", async (HttpContext context, DashboardOptions options, DashboardSessions sessions) =>
        {
            var form = await context.Request.ReadFormAsync(context.RequestAborted);
            return TryLogin(form["token"].ToString(), context, options, sessions);
        }).DisableAntiforgery();
        endpoints.MapPost("/logout", (HttpContext context) =>
        {
            context.Response.Cookies.Delete(DashboardSessions.CookieName);
            return TypedResults.Redirect("/login");
        }).DisableAntiforgery();
        return endpoints;
    }

    private static Results<RedirectHttpResult, ContentHttpResult> TryLogin(string presented, HttpContext context, DashboardOptions options, DashboardSessions sessions)
    {
        if (options.BrowserToken is { Length: > 0 } token && !Secrets.FixedTimeEquals(presented, token))
        {
            return DashboardPages.LoginPage("That token is not valid for this dashboard.");
        }
        var cookie = sessions.Issue(out var expires);
        context.Response.Cookies.Append(DashboardSessions.CookieName, cookie, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Expires = expires,
            Path = "/",
            IsEssential = true,
        });
        return TypedResults.Redirect("/", permanent: false);
    }
}
