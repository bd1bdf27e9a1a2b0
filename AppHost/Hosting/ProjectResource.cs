using System.Security.Cryptography;

namespace Pii.AppHost.Hosting;

/// <summary>Something a project can reference: it adds environment variables (ASPIRE-CONVENTIONS.md §1.4, §1.5).</summary>
public interface IResourceReference
{
    Resource Resource { get; }

    void ApplyTo(IDictionary<string, string?> environment);
}

/// <summary>
/// <c>ConnectionStrings__&lt;name&gt;</c>, with credentials chosen per referencing service, plus Aspire 13's connection
/// properties <c>&lt;NAME&gt;_HOST</c>, <c>_PORT</c>, <c>_USERNAME</c>, <c>_PASSWORD</c>, <c>_DATABASENAME</c>, <c>_URI</c> when known.
/// </summary>
public sealed class ConnectionReference(Resource resource, string connectionName, Func<string> connectionString,
    Func<IReadOnlyDictionary<string, string>>? properties = null) : IResourceReference
{
    public Resource Resource { get; } = resource;

    public string ConnectionName { get; } = connectionName;

    public string ConnectionString => connectionString();

    public void ApplyTo(IDictionary<string, string?> environment)
    {
        environment[$"ConnectionStrings__{ConnectionName}"] = ConnectionString;
        if (properties is null) return;
        foreach (var (property, value) in properties()) environment[$"{EnvironmentPrefix(ConnectionName)}_{property}"] = value;
    }

    /// <summary>Aspire's rule for property variables: the name upper-cased, every non-alphanumeric character as '_'.</summary>
    public static string EnvironmentPrefix(string name) =>
        string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_'));

    /// <summary>The properties of a database login (Aspire's Postgres/MySQL connection properties).</summary>
    public static IReadOnlyDictionary<string, string> DatabaseProperties(string scheme, int port, string user, string password, string database) =>
        new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["HOST"] = "127.0.0.1",
            ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["USERNAME"] = user,
            ["PASSWORD"] = password,
            ["DATABASENAME"] = database,
            ["URI"] = $"{scheme}://{Uri.EscapeDataString(user)}:{Uri.EscapeDataString(password)}@127.0.0.1:{port}/{database}",
        };
}

public static class ResourceExtensions
{
    /// <summary>Aspire's AddExecutable: any program (on PATH or an absolute path) run as a child process.</summary>
    public static Resource AddExecutable(this AppModel model, string name, string fileName, params string[] arguments)
    {
        var spec = new ProcessSpec(fileName) { WorkingDirectory = model.Options.DataRoot };
        spec.Arguments.AddRange(arguments);
        return model.Add(new Resource(name, "Executable") { Process = spec });
    }

    /// <summary>Aspire's WaitFor: start only once <paramref name="dependency"/> is Running, healthy and provisioned.</summary>
    public static T WaitFor<T>(this T resource, Resource dependency) where T : Resource
    {
        if (!resource.WaitsFor.Contains(dependency)) resource.WaitsFor.Add(dependency);
        return resource;
    }

    public static T WithHttpHealthCheck<T>(this T resource, string path = "/health") where T : Resource
    {
        var endpoint = resource.Endpoint("http") ?? throw new InvalidOperationException($"'{resource.Name}' has no http endpoint.");
        resource.HealthCheck = HealthChecks.Http200(endpoint.Url + path);
        return resource;
    }
}

/// <summary>
/// A .NET project run the way DCP runs one: built once up front, then <c>dotnet &lt;dll&gt;</c> from the project folder
/// with no launch profile and the AppHost-computed environment: ASPNETCORE_URLS, ASPNETCORE_ENVIRONMENT, OTEL_*,
/// connection strings and service URLs of its references.
/// </summary>
public class ProjectResource : Resource
{
    private readonly AppModel _model;
    private readonly List<IResourceReference> _references = [];
    private readonly Dictionary<string, Func<string>> _environment = new(StringComparer.Ordinal);

    /// <param name="host">The endpoint's host name: <c>localhost</c> as Aspire uses, or <c>127.0.0.1</c> to bind IPv4 loopback only.</param>
    /// <param name="launch">False for a project that is external here: not built, not started (e.g. a real Vault).</param>
    public ProjectResource(AppModel model, string name, string relativeProjectPath, string type = "Project", string host = "localhost", bool launch = true)
        : base(name, type)
    {
        _model = model;
        ProjectPath = Path.Combine(model.Options.RepoRoot, relativeProjectPath);
        AssemblyPath = "";
        if (!launch) return;
        AssemblyPath = model.Projects.Register(relativeProjectPath);
        Endpoints.Add(new ResourceEndpoint("http", "http", host, model.AllocatePort()));
        Process = new ProcessSpec("dotnet") { WorkingDirectory = Path.GetDirectoryName(ProjectPath) };
        Process.Arguments.Add(AssemblyPath);
        BeforeStart.Add(PrepareAsync);
    }

    public string ProjectPath { get; }

    public string AssemblyPath { get; }

    public ResourceEndpoint HttpEndpoint => Endpoint("http") ?? throw new InvalidOperationException($"'{Name}' is not launched here; it has no local endpoint.");

    public ProjectResource WithReference(IResourceReference reference)
    {
        _references.Add(reference);
        return this;
    }

    /// <summary>Service discovery: <c>services__&lt;name&gt;__http__0</c> (and <c>&lt;NAME&gt;_HTTP</c>) = the project's http URL.</summary>
    public ProjectResource WithReference(ProjectResource project)
    {
        _references.Add(new ServiceReference(project));
        return this;
    }

    public ProjectResource WithEnvironment(string name, string value) => WithEnvironment(name, () => value);

    public ProjectResource WithEnvironment(string name, Func<string> value)
    {
        _environment[name] = value;
        return this;
    }

    public ProjectResource WithArgs(params string[] arguments)
    {
        Process!.Arguments.AddRange(arguments);
        return this;
    }

    private async Task PrepareAsync(CancellationToken cancellationToken)
    {
        await _model.Projects.EnsureBuiltAsync(cancellationToken);
        if (!File.Exists(AssemblyPath)) throw new FileNotFoundException($"{AssemblyPath} is missing: build {ProjectPath} first.");
        var environment = Process!.Environment;
        environment.Clear();
        foreach (var (name, value) in ComputeEnvironment()) environment[name] = value;
    }

    /// <summary>The variables a real Aspire AppHost injects into a project in run mode (ASPIRE-CONVENTIONS.md §1).</summary>
    public IDictionary<string, string?> ComputeEnvironment()
    {
        var options = _model.Options;
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["ASPNETCORE_URLS"] = HttpEndpoint.Url,
            ["ASPNETCORE_ENVIRONMENT"] = options.EnvironmentName,
            ["OTEL_SERVICE_NAME"] = Name,
            ["OTEL_RESOURCE_ATTRIBUTES"] = "service.instance.id=" + NewInstanceId(),
            ["OTEL_DOTNET_EXPERIMENTAL_OTLP_RETRY"] = "in_memory",
            ["DOTNET_SYSTEM_CONSOLE_ALLOW_ANSI_COLOR_REDIRECTION"] = "true",
            ["LOGGING__CONSOLE__FORMATTERNAME"] = "simple",
        };
        if (options.OtlpEndpoint is not null)
        {
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = options.OtlpEndpoint;
            environment["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf";
            if (options.OtlpApiKey is not null) environment["OTEL_EXPORTER_OTLP_HEADERS"] = "x-otlp-api-key=" + options.OtlpApiKey;
            environment["OTEL_BSP_SCHEDULE_DELAY"] = "1000";
            environment["OTEL_BLRP_SCHEDULE_DELAY"] = "1000";
            environment["OTEL_METRIC_EXPORT_INTERVAL"] = "1000";
            if (options.EnvironmentName == "Development")
            {
                environment["OTEL_TRACES_SAMPLER"] = "always_on";
                environment["OTEL_METRICS_EXEMPLAR_FILTER"] = "trace_based";
            }
        }
        foreach (var reference in _references) reference.ApplyTo(environment);
        foreach (var (name, value) in _environment) environment[name] = value();
        return environment;
    }

    /// <summary>DCP names each replica <c>&lt;resource&gt;-&lt;8 random lowercase letters&gt;</c>; the suffix is the OTel instance id.</summary>
    private static string NewInstanceId() => string.Create(8, 0, (span, _) =>
    {
        for (var i = 0; i < span.Length; i++) span[i] = (char)('a' + RandomNumberGenerator.GetInt32(26));
    });

    private sealed class ServiceReference(ProjectResource project) : IResourceReference
    {
        public Resource Resource => project;

        public void ApplyTo(IDictionary<string, string?> environment)
        {
            environment[$"services__{project.Name}__http__0"] = project.HttpEndpoint.Url;
            environment[$"{ConnectionReference.EnvironmentPrefix(project.Name)}_HTTP"] = project.HttpEndpoint.Url;
        }
    }
}
