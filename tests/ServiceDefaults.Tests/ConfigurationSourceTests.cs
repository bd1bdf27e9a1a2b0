using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using Pii.ServiceDefaults.Tests.Otlp;
using Pii.Testing;

namespace Pii.ServiceDefaults.Tests;

/// <summary>
/// OTEL_* settings are read from IConfiguration (environment variables are one of its sources), so a test host or
/// appsettings can configure export without touching the process environment.
/// </summary>
public sealed class ConfigurationSourceTests
{
    [Fact]
    public async Task Otel_settings_from_configuration_alone_configure_the_exporters()
    {
        await using var otlp = OtlpCapture.Start("config-key");
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Development });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.Endpoint.ToString().TrimEnd('/');
        builder.Configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
        builder.Configuration["OTEL_EXPORTER_OTLP_HEADERS"] = "x-otlp-api-key=config-key";
        builder.Configuration["OTEL_SERVICE_NAME"] = "configured";
        builder.Configuration["OTEL_RESOURCE_ATTRIBUTES"] = "service.instance.id=cfginstx";
        builder.Configuration["OTEL_BSP_SCHEDULE_DELAY"] = "100";
        builder.AddServiceDefaults();
        await using var app = builder.Build();
        var route = $"/configured-{Guid.NewGuid():N}";
        app.MapGet(route, () => "ok");
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };

        (await http.GetAsync(route)).EnsureSuccessStatusCode();

        var span = await Eventually.WaitAsync(() => otlp.Spans.FirstOrDefault(s => s.Name == $"GET {route}"), "the configured host's span");
        Assert.Equal("configured", span.ServiceName);
        Assert.Equal("cfginstx", span.Resource["service.instance.id"]);
        Assert.Equal(0, otlp.Refused);
    }
}
