using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Pii.AppHost.Hosting;
using Pii.Services.Shared;

namespace Pii.AppHost.Tests.Hosting;

public sealed class S3rverFixture : IAsyncLifetime
{
    private LocalResources? _resources;

    public S3Server Server { get; private set; } = null!;

    public ConnectionReference Documents { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var model = LocalResources.CreateModel("s3");
        Server = model.AddS3rver("s3");
        Documents = Server.AddBucket("documents");
        _resources = await LocalResources.StartAsync(model);
    }

    public async Task DisposeAsync()
    {
        if (_resources is not null) await _resources.DisposeAsync();
    }
}

public sealed class S3rverTests(S3rverFixture fixture) : IClassFixture<S3rverFixture>
{
    [Fact]
    public async Task Bucket_from_the_connection_string_stores_and_returns_an_object()
    {
        var bucket = S3BucketConnection.Parse(fixture.Documents.ConnectionString);
        Assert.Equal("documents", bucket.Bucket);
        using var client = bucket.CreateClient();
        var body = Encoding.UTF8.GetBytes("hello from the launcher test " + Guid.NewGuid());
        await client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucket.Bucket,
            Key = "probe.txt",
            InputStream = new MemoryStream(body),
            UseChunkEncoding = false,
        });
        using var response = await client.GetObjectAsync(bucket.Bucket, "probe.txt");
        using var copy = new MemoryStream();
        await response.ResponseStream.CopyToAsync(copy);
        Assert.Equal(body, copy.ToArray());
    }

    [Fact]
    public async Task Unknown_bucket_is_refused()
    {
        var bucket = S3BucketConnection.Parse(fixture.Documents.ConnectionString) with { Bucket = "missing" };
        using var client = bucket.CreateClient();
        var error = await Assert.ThrowsAsync<AmazonS3Exception>(() => client.GetObjectAsync("missing", "x"));
        Assert.Equal("NoSuchBucket", error.ErrorCode);
    }
}
