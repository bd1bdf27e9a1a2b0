using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;
using Pii.Services.Shared;

namespace Pii.AppHost.Tests.Hosting;

public sealed class S3rverFixture : IAsyncLifetime
{
    private LocalResources? _resources;

    public IResourceBuilder<S3ServerResource> Server { get; private set; } = null!;

    public IResourceBuilder<S3BucketResource> Documents { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var model = LocalResources.CreateBuilder("s3");
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
        var bucket = S3BucketConnection.Parse(fixture.Documents.Resource.ConnectionString);
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
    public async Task A_thousand_objects_list_page_by_page()
    {
        // s3rver 3.7.1 encrypts continuation tokens with DES: without the legacy OpenSSL provider the second page was a 500
        // (after the README's uploads, DocumentService's bucket check turned unhealthy and the next start stopped).
        var bucket = S3BucketConnection.Parse(fixture.Documents.Resource.ConnectionString);
        using var client = bucket.CreateClient();
        var prefix = "many-" + Guid.NewGuid().ToString("N") + "/";
        const int count = 1005;
        using (var gate = new SemaphoreSlim(8))
        {
            await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
            {
                await gate.WaitAsync();
                try
                {
                    await client.PutObjectAsync(new PutObjectRequest
                    {
                        BucketName = bucket.Bucket,
                        Key = $"{prefix}{i:D4}",
                        InputStream = new MemoryStream(Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture))),
                        UseChunkEncoding = false,
                    });
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        var keys = new List<string>();
        var pages = 0;
        string? token = null;
        do
        {
            var page = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket.Bucket, Prefix = prefix, MaxKeys = 100, ContinuationToken = token });
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
            pages++;
        }
        while (token is not null);

        Assert.Equal(11, pages);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"{prefix}{i:D4}"), keys);
    }

    [Fact]
    public async Task Unknown_bucket_is_refused()
    {
        var bucket = S3BucketConnection.Parse(fixture.Documents.Resource.ConnectionString) with { Bucket = "missing" };
        using var client = bucket.CreateClient();
        var error = await Assert.ThrowsAsync<AmazonS3Exception>(() => client.GetObjectAsync("missing", "x"));
        Assert.Equal("NoSuchBucket", error.ErrorCode);
    }
}
