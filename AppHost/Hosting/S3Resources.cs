using System.Globalization;

namespace Pii.AppHost.Hosting;

/// <summary>
/// s3rver 3.7.1 (npm, from AppHost/node's lock file) as the local S3: buckets created at start with
/// <c>--configure-bucket</c>, credentials S3RVER/S3RVER. With <c>Resources:&lt;name&gt;:Endpoint</c> (plus
/// <c>AccessKey</c>/<c>SecretKey</c>) it is external (MinIO, AWS S3, …): probed, not launched; buckets must exist.
/// </summary>
/// <remarks>
/// Connection string of a bucket (keys of the MinIO client integration plus the bucket):
/// <c>Endpoint=http://127.0.0.1:PORT;AccessKey=S3RVER;SecretKey=S3RVER;Bucket=documents</c>. Clients use path-style
/// addressing and the PLATFORM.md checksum settings against s3rver.
/// </remarks>
public sealed class S3Server : Resource
{
    public const string LocalAccessKey = "S3RVER";
    private readonly AppModel _model;

    public S3Server(AppModel model, string name) : base(name, "ObjectStore")
    {
        _model = model;
        var external = model.ResourceConfiguration(name);
        if (external["Endpoint"] is { } endpoint)
        {
            Type = "External";
            ServiceUrl = endpoint.TrimEnd('/');
            AccessKey = external["AccessKey"] ?? throw new InvalidOperationException($"Resources:{name}:AccessKey is required with Resources:{name}:Endpoint.");
            SecretKey = external["SecretKey"] ?? throw new InvalidOperationException($"Resources:{name}:SecretKey is required with Resources:{name}:Endpoint.");
            HealthCheck = HealthChecks.Http200(ServiceUrl + "/", status => status < 500);
            return;
        }
        var port = model.AllocatePort();
        Endpoints.Add(new ResourceEndpoint("http", "http", "127.0.0.1", port));
        ServiceUrl = Endpoints[0].Url;
        AccessKey = LocalAccessKey;
        SecretKey = LocalAccessKey;
        var nodeDirectory = Path.Combine(model.Options.RepoRoot, "AppHost", "node");
        var dataDirectory = model.DataPath(name);
        BeforeStart.Add(async ct =>
        {
            await Prerequisites.EnsureNpmPackagesAsync(nodeDirectory, model.Options.Progress, ct);
            Directory.CreateDirectory(dataDirectory);
        });
        Process = new ProcessSpec("node") { WorkingDirectory = nodeDirectory };
        Process.Arguments.AddRange([Path.Combine(nodeDirectory, "node_modules", "s3rver", "bin", "s3rver.js"),
            "-d", dataDirectory, "-p", port.ToString(CultureInfo.InvariantCulture), "-a", "127.0.0.1"]);
        // s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with DES, which Node 20's OpenSSL 3 refuses unless the
        // legacy provider is loaded: without it every listing of more than max-keys objects answers 500.
        Process.Environment["NODE_OPTIONS"] = "--openssl-legacy-provider";
        // s3rver answers every request, signed or not; any non-5xx answer means it serves.
        HealthCheck = HealthChecks.Http200(ServiceUrl + "/", status => status < 500);
        StartupTimeout = TimeSpan.FromSeconds(60);
    }

    public bool IsExternal => Process is null;

    public string ServiceUrl { get; }

    public string AccessKey { get; }

    public string SecretKey { get; }

    public ConnectionReference AddBucket(string name)
    {
        Tools.QuotedIdentifier(name);
        if (!IsExternal) Process!.Arguments.AddRange(["--configure-bucket", name]);
        var bucket = _model.Add(new Resource(name, "Bucket"));
        bucket.WaitsFor.Add(this);
        return new ConnectionReference(bucket, name, () => $"Endpoint={ServiceUrl};AccessKey={AccessKey};SecretKey={SecretKey};Bucket={name}");
    }
}

public static class S3ModelExtensions
{
    public static S3Server AddS3rver(this AppModel model, string name) => model.Add(new S3Server(model, name));
}
