using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace Pii.AppHost.Hosting;

public static class ProjectDefaults
{
    /// <summary>
    /// What every .NET project of ours needs from the AppHost beyond Aspire's own injection: the AppHost's environment
    /// name (projects run with no launch profile; Development maps /health and /alive), and no in-memory OTLP retry
    /// (Aspire asks for it; a service then needs ~5 s to exit on SIGTERM, racing DCP's kill at ~6 s: ASPIRE.md pitfall 3).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithProjectDefaults(this IResourceBuilder<ProjectResource> project) =>
        project.WithEnvironment("ASPNETCORE_ENVIRONMENT", project.ApplicationBuilder.Environment.EnvironmentName)
            .WithEnvironment(context => context.EnvironmentVariables.Remove("OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"));
}
