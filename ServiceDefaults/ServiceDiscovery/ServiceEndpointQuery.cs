namespace Pii.ServiceDefaults.ServiceDiscovery;

/// <summary>
/// A logical address as Microsoft.Extensions.ServiceDiscovery parses it: <c>scheme1+scheme2://[_endpoint.]service[:port]</c>.
/// '+' separates schemes in order of preference; a leading <c>_name.</c> selects a named endpoint.
/// </summary>
internal sealed record ServiceEndpointQuery(IReadOnlyList<string> IncludedSchemes, string ServiceName, string? EndpointName)
{
    public static ServiceEndpointQuery Parse(Uri uri)
    {
        var schemes = uri.Scheme.Split('+', StringSplitOptions.RemoveEmptyEntries);
        var host = uri.Host;
        string? endpointName = null;
        if (host.StartsWith('_') && host.IndexOf('.', StringComparison.Ordinal) is var dot and > 1)
        {
            endpointName = host[1..dot];
            host = host[(dot + 1)..];
        }
        return new ServiceEndpointQuery(schemes, host, endpointName);
    }
}
