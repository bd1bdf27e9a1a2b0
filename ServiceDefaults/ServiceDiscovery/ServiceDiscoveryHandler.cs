using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Pii.ServiceDefaults.ServiceDiscovery;

/// <summary>Rewrites each outgoing request's logical URI (<c>https+http://formapi/x</c>) to a configured endpoint at send time.</summary>
internal sealed class ServiceDiscoveryHandler(ServiceEndpointResolver resolver) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var logical = request.RequestUri;
        if (logical is { IsAbsoluteUri: true })
        {
            request.RequestUri = resolver.Resolve(logical);
        }
        try
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            request.RequestUri = logical;
        }
    }
}

internal static class ServiceDiscoverySetup
{
    public static IServiceCollection AddServiceDiscovery(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ServiceDiscoveryOptions>().Bind(configuration.GetSection("ServiceDiscovery"));
        services.AddSingleton<ServiceEndpointResolver>();
        services.AddTransient<ServiceDiscoveryHandler>();
        return services;
    }
}
