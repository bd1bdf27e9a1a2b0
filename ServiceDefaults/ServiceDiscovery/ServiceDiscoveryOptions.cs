namespace Pii.ServiceDefaults.ServiceDiscovery;

/// <summary>Same names and defaults as Microsoft.Extensions.ServiceDiscovery, so swapping to the package is a one-liner.</summary>
public sealed class ServiceDiscoveryOptions
{
    /// <summary>Configuration section holding <c>&lt;service&gt;:&lt;endpoint&gt;[:&lt;n&gt;]</c> values.</summary>
    public string SectionName { get; set; } = "Services";

    /// <summary>When true, a query without schemes accepts endpoints of any scheme.</summary>
    public bool AllowAllSchemes { get; set; } = true;

    /// <summary>Used when <see cref="AllowAllSchemes"/> is false: the only schemes a query may resolve to.</summary>
    public IList<string> AllowedSchemes { get; } = [];
}
