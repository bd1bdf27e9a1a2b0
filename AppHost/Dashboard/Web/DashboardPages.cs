using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Pii.AppHost.Dashboard.Web;

/// <summary>
/// Server-rendered page shells; <c>/static/app.js</c> fills them from the JSON API and keeps them current by polling
/// (console logs stream over server-sent events). No build step: the CSS and JS are embedded files.
/// </summary>
public static class DashboardPages
{
    private static readonly (string Path, string Title)[] Navigation =
    [
        ("/", "Resources"), ("/traces", "Traces"), ("/logs", "Structured logs"), ("/metrics", "Metrics"),
    ];

    public static IEndpointRouteBuilder MapDashboardPages(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/", () => Page("Resources", "resources", "/", null));
        endpoints.MapGet("/console/{name}", (string name) => Page($"Console: {name}", "console", "/", name));
        endpoints.MapGet("/traces", () => Page("Traces", "traces", "/traces", null));
        endpoints.MapGet("/traces/{traceId}", (string traceId) => Page("Trace", "trace", "/traces", traceId));
        endpoints.MapGet("/logs", () => Page("Structured logs", "logs", "/logs", null));
        endpoints.MapGet("/metrics", () => Page("Metrics", "metrics", "/metrics", null));
        endpoints.MapGet("/static/{file}", StaticFile);
        return endpoints;
    }

    private static ContentHttpResult Page(string title, string page, string activePath, string? argument)
    {
        var html = HtmlEncoder.Default;
        var nav = string.Concat(Navigation.Select(item =>
            $"<a href=\"{item.Path}\"{(item.Path == activePath ? " class=\"active\"" : "")}>{html.Encode(item.Title)}</a>"));
        var body = $"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{html.Encode(title)} · PiiAspire</title>
            <link rel="stylesheet" href="/static/app.css">
            </head>
            <body data-page="{page}" data-arg="{html.Encode(argument ?? "")}">
            <header><a class="brand" href="/">PiiAspire</a><nav>{nav}</nav></header>
            <main>
            <h1 id="title">{html.Encode(title)}</h1>
            <div id="toolbar"></div>
            <div id="content"><p class="muted">Loading…</p></div>
            </main>
            <script src="/static/app.js"></script>
            </body>
            </html>
            """;
        return TypedResults.Content(body, "text/html; charset=utf-8");
    }

    public static ContentHttpResult LoginPage(string? error)
    {
        var message = error is null ? "" : $"<p class=\"error\">{HtmlEncoder.Default.Encode(error)}</p>";
        var body = $"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>Log in · PiiAspire</title>
            <link rel="stylesheet" href="/static/app.css">
            </head>
            <body class="login">
            <form method="post" action="/login" class="card">
            <h1>PiiAspire dashboard</h1>
            <p>Paste the token from the login URL the AppHost printed (also in <code>.pii/secrets/dashboard-token</code>).</p>
            {message}
            <label for="token">Token</label>
            <input id="token" name="token" type="password" autocomplete="off" autofocus>
            <button type="submit">Log in</button>
            </form>
            </body>
            </html>
            """;
        return TypedResults.Content(body, "text/html; charset=utf-8", statusCode: error is null ? 200 : StatusCodes.Status401Unauthorized);
    }

    private static Results<FileContentHttpResult, NotFound> StaticFile(string file)
    {
        var contentType = Path.GetExtension(file) switch
        {
            ".css" => "text/css; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            _ => null,
        };
        using var stream = contentType is null ? null : typeof(DashboardPages).Assembly.GetManifestResourceStream($"Dashboard.Web.{file}");
        if (stream is null)
        {
            return TypedResults.NotFound();
        }
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return TypedResults.File(copy.ToArray(), contentType);
    }
}
