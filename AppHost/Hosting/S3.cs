using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;

namespace Pii.AppHost.Hosting;

/// <summary>
/// s3rver 3.7.1 (npm, from AppHost/node's lock file) run by DCP with node as the local S3, its objects in
/// <c>&lt;state&gt;/data/&lt;name&gt;</c>, buckets created at start with <c>--configure-bucket</c>, credentials S3RVER/S3RVER.
/// s3rver answers every request, signed or not (README says what a production S3 must enforce instead).
/// </summary>
public sealed class S3ServerResource(string name, string workingDirectory, int port, string dataDirectory) : ExecutableResource(name, "node", workingDirectory)
{
    public const string LocalAccessKey = "S3RVER";

    public int Port { get; } = port;

    /// <summary>Where s3rver keeps buckets and objects (one file per object, parts of unfinished uploads beside them).</summary>
    public string DataDirectory { get; } = dataDirectory;

    public string ServiceUrl => $"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>
/// A bucket of an <see cref="S3ServerResource"/>. Its connection string carries the keys of the MinIO client integration
/// plus the bucket: <c>Endpoint=http://127.0.0.1:PORT;AccessKey=S3RVER;SecretKey=S3RVER;Bucket=documents</c>; clients use
/// path-style addressing.
/// </summary>
public sealed class S3BucketResource(string name, S3ServerResource server) : Resource(name), IResourceWithParent<S3ServerResource>, IResourceWithConnectionString
{
    public S3ServerResource Parent { get; } = server;

    public string ConnectionString =>
        $"Endpoint={Parent.ServiceUrl};AccessKey={S3ServerResource.LocalAccessKey};SecretKey={S3ServerResource.LocalAccessKey};Bucket={Name}";

    public ReferenceExpression ConnectionStringExpression => ReferenceExpression.Create($"{ConnectionString}");
}

public static class S3BuilderExtensions
{
    /// <summary>s3rver on 127.0.0.1 (fixed port 14568 unless configured).</summary>
    public static IResourceBuilder<S3ServerResource> AddS3rver(this IDistributedApplicationBuilder builder, string name, int? port = 14568)
    {
        var state = LocalState.Of(builder);
        var nodeDirectory = Path.Combine(state.RepoRoot, "AppHost", "node");
        var dataDirectory = state.DataPath(name);
        var server = new S3ServerResource(name, nodeDirectory, state.PortFor(name, port), dataDirectory);
        var resource = builder.AddResource(server)
            .WithArgs(Path.Combine(nodeDirectory, "node_modules", "s3rver", "bin", "s3rver.js"),
                "-d", dataDirectory, "-p", server.Port.ToString(CultureInfo.InvariantCulture), "-a", "127.0.0.1")
            // s3rver encrypts ListObjectsV2 continuation tokens with DES, which Node 20's OpenSSL 3 refuses unless the
            // legacy provider is loaded: without it every listing of more than max-keys objects answers 500.
            .WithEnvironment("NODE_OPTIONS", "--openssl-legacy-provider")
            .WithHttpEndpoint(port: server.Port, targetPort: server.Port, isProxied: false)
            // Any answer below 500 (s3rver answers unsigned requests too) means it serves.
            .WithProbe(HealthProbes.Http(() => server.ServiceUrl + "/", status => status < 500));
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(server, async (_, ct) =>
        {
            await Prerequisites.EnsureNpmPackagesAsync(nodeDirectory, cancellationToken: ct);
            // The objects are ciphertext, but their names and sizes are nobody else's business either.
            Directory.CreateDirectory(dataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        });
        return resource;
    }

    /// <summary>A bucket, created when the server starts.</summary>
    public static IResourceBuilder<S3BucketResource> AddBucket(this IResourceBuilder<S3ServerResource> server, string name)
    {
        Tools.QuotedIdentifier(name);
        server.WithArgs("--configure-bucket", name);
        return server.ApplicationBuilder.AddChild(new S3BucketResource(name, server.Resource), "S3Bucket");
    }
}
