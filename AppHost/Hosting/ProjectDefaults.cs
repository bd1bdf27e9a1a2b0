using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace Pii.AppHost.Hosting;

public static class ProjectDefaults
{
    /// <summary>
    /// What every .NET project of ours needs from the AppHost beyond Aspire's own injection: the AppHost's environment
    /// name (projects run with no launch profile; Development maps /health and /alive), and no in-memory OTLP retry
    /// (Aspire asks for it; a service then needs ~5 s to exit on SIGTERM, racing DCP's kill at ~6 s: ASPIRE.md pitfall 3).
    /// Telemetry goes over OTLP/HTTP, the one OTLP endpoint our dashboard opens (and Aspire would otherwise prefer gRPC
    /// whenever a gRPC URL is configured, as Aspire.Hosting.Testing does by default).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithProjectDefaults(this IResourceBuilder<ProjectResource> project)
    {
        if (project.ApplicationBuilder.Configuration["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] is { Length: > 0 })
        {
            project.WithOtlpExporter(OtlpProtocol.HttpProtobuf);
        }
        return project.WithEnvironment("ASPNETCORE_ENVIRONMENT", project.ApplicationBuilder.Environment.EnvironmentName)
            .WithEnvironment(context => context.EnvironmentVariables.Remove("OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"));
    }
}
