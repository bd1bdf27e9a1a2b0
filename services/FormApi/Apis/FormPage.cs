namespace Pii.FormApi.Apis;

/// <summary>The public form at <c>/</c> (intake only): static HTML + JS from wwwroot with a strict Content-Security-Policy.</summary>
internal static class FormPage
{
    public static IEndpointRouteBuilder MapFormPage(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            await next(context);
        });
        app.UseStaticFiles();
        app.MapGet("/", (IWebHostEnvironment environment) => TypedResults.PhysicalFile(Path.Combine(environment.WebRootPath, "index.html"), "text/html; charset=utf-8"))
            .WithName("DncForm")
            .WithTags("DNC intake")
            .WithSummary("The Do-Not-Contact preference form")
            .Produces(StatusCodes.Status200OK, contentType: "text/html");
        return app;
    }
}
