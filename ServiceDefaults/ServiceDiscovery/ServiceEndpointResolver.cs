using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Pii.ServiceDefaults.ServiceDiscovery;

/// <summary>
/// Resolves a logical URI to a concrete one from configuration, with the rules of Microsoft.Extensions.ServiceDiscovery's
/// configuration provider (ASPIRE-CONVENTIONS.md §1.5):
/// <list type="number">
/// <item>section <c>Services:&lt;service&gt;</c>; with an endpoint name, the child of that name, otherwise the first
/// existing child among <c>default</c> then each requested scheme in order;</item>
/// <item>a value is one URI (or host:port) or numbered children 0,1,…;</item>
/// <item>with requested schemes, endpoints of other schemes are dropped and only those of the most preferred scheme
/// present are kept;</item>
/// <item>nothing configured: pass-through (host kept; a <c>a+b</c> scheme becomes <c>a</c>);</item>
/// <item>several endpoints: round-robin.</item>
/// </list>
/// The resolved endpoint's scheme, host, port (and base path) replace the logical ones; path and query are kept.
/// </summary>
internal sealed class ServiceEndpointResolver(IConfiguration configuration, IOptions<ServiceDiscoveryOptions> options)
{
    private const string DefaultEndpointName = "default";
    private readonly ServiceDiscoveryOptions _options = options.Value;
    private readonly ConcurrentDictionary<string, int> _roundRobin = new(StringComparer.OrdinalIgnoreCase);

    public Uri Resolve(Uri uri)
    {
        var query = ServiceEndpointQuery.Parse(uri);
        var endpoints = FindEndpoints(query);
        if (endpoints.Count == 0)
        {
            return PassThrough(uri);
        }
        var next = _roundRobin.AddOrUpdate($"{uri.Scheme}://{uri.Host}", 0, (_, n) => unchecked(n + 1));
        var endpoint = endpoints[(int)((uint)next % (uint)endpoints.Count)];
        return Combine(uri, endpoint);
    }

    private List<Endpoint> FindEndpoints(ServiceEndpointQuery query)
    {
        var service = configuration.GetSection(_options.SectionName).GetSection(query.ServiceName);
        if (!service.Exists())
        {
            return [];
        }

        var schemes = AllowedSchemesFor(query);
        var includeAllSchemes = _options.AllowAllSchemes && query.IncludedSchemes.Count == 0;
        var endpointName = query.EndpointName;
        if (string.IsNullOrWhiteSpace(endpointName))
        {
            endpointName = new[] { DefaultEndpointName }.Concat(schemes)
                .FirstOrDefault(name => service.GetSection(name).Exists());
            if (endpointName is null)
            {
                return [];
            }
        }
        var named = service.GetSection(endpointName);
        if (!named.Exists())
        {
            return [];
        }

        var resolved = new List<Endpoint>();
        if (!string.IsNullOrWhiteSpace(named.Value))
        {
            resolved.Add(Endpoint.Parse(named.Value, query.ServiceName, endpointName));
        }
        else
        {
            foreach (var child in named.GetChildren())
            {
                if (!int.TryParse(child.Key, out _))
                {
                    throw new KeyNotFoundException($"The endpoint configuration section for service '{query.ServiceName}' endpoint '{endpointName}' has non-numeric keys.");
                }
                resolved.Add(Endpoint.Parse(child.Value, query.ServiceName, endpointName));
            }
        }

        if (includeAllSchemes)
        {
            return resolved;
        }
        // Keep host:port endpoints (no scheme) and the URIs of the most preferred scheme present.
        var best = resolved.Where(e => e.Scheme is not null).Select(e => IndexOf(schemes, e.Scheme!))
            .Where(i => i >= 0).DefaultIfEmpty(schemes.Count).Min();
        return resolved.Where(e => e.Scheme is null || IndexOf(schemes, e.Scheme) is var i && i >= 0 && i <= best).ToList();
    }

    private List<string> AllowedSchemesFor(ServiceEndpointQuery query)
    {
        if (_options.AllowAllSchemes)
        {
            return [.. query.IncludedSchemes];
        }
        if (query.IncludedSchemes.Count == 0)
        {
            return [.. _options.AllowedSchemes];
        }
        return query.IncludedSchemes.Where(s => _options.AllowedSchemes.Contains(s, StringComparer.OrdinalIgnoreCase)).ToList();
    }

    private static int IndexOf(List<string> schemes, string scheme) =>
        schemes.FindIndex(s => string.Equals(s, scheme, StringComparison.OrdinalIgnoreCase));

    private Uri Combine(Uri uri, Endpoint endpoint)
    {
        if (endpoint.Scheme is null)
        {
            return WithHost(uri, endpoint.Host, endpoint.Port);
        }
        var builder = new UriBuilder(uri) { Scheme = endpoint.Scheme, Host = endpoint.Host, Port = endpoint.Port };
        if (endpoint.BasePath.Length > 1)
        {
            builder.Path = $"{endpoint.BasePath.TrimEnd('/')}/{uri.AbsolutePath.TrimStart('/')}";
        }
        return builder.Uri;
    }

    private Uri PassThrough(Uri uri) =>
        WithHost(uri, ServiceEndpointQuery.Parse(uri).ServiceName, uri.IsDefaultPort ? -1 : uri.Port);

    /// <summary>Keeps the request's scheme, or the first preference of an <c>a+b</c> scheme.</summary>
    private Uri WithHost(Uri uri, string host, int port)
    {
        var builder = new UriBuilder(uri) { Host = host, Port = port };
        if (uri.Scheme.Contains('+', StringComparison.Ordinal))
        {
            var scheme = uri.Scheme.Split('+')[0];
            if (!_options.AllowAllSchemes && !_options.AllowedSchemes.Contains(scheme, StringComparer.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"The scheme '{scheme}' is not allowed.");
            }
            builder.Scheme = scheme;
            builder.Port = port; // setting Scheme resets the port to the new scheme's default
        }
        return builder.Uri;
    }

    /// <summary>One configured endpoint: a URI (<c>http://localhost:5000</c>) or host[:port] (<paramref name="Scheme"/> null).</summary>
    private sealed record Endpoint(string? Scheme, string Host, int Port, string BasePath)
    {
        public static Endpoint Parse(string? value, string service, string endpointName)
        {
            if (value is not null && value.Contains("://", StringComparison.Ordinal)
                && Uri.TryCreate(value, UriKind.Absolute, out var uri))
            {
                return new Endpoint(uri.Scheme, uri.Host, uri.IsDefaultPort ? -1 : uri.Port, uri.AbsolutePath);
            }
            if (value is not null && Uri.TryCreate("dns://" + value, UriKind.Absolute, out var dns) && dns.AbsolutePath == "/")
            {
                return new Endpoint(null, dns.Host, dns.Port, "/");
            }
            throw new KeyNotFoundException($"The endpoint configuration section for service '{service}' endpoint '{endpointName}' has an invalid value.");
        }
    }
}
