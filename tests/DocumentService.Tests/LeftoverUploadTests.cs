extern alias documentservice;

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using DocumentCatalog = documentservice::Pii.DocumentService.Documents.DocumentCatalog;
using DocumentOptions = documentservice::Pii.DocumentService.Documents.DocumentOptions;
using OrphanSweeper = documentservice::Pii.DocumentService.Documents.OrphanSweeper;
using S3BucketConnection = documentservice::Pii.Services.Shared.S3BucketConnection;

namespace Pii.DocumentService.Tests;

/// <summary>
/// Multipart uploads that never complete leave no parts behind (issue 10, item 10). s3rver 3.7.1 can neither abort nor
/// list uploads, so what it still holds is read from its data folder (<c>{data}/documents/._S3rver_uploads/{id}</c>).
/// The listing path runs against moto's S3 server, which implements ListMultipartUploads and AbortMultipartUpload.
/// </summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class LeftoverUploadTests(DocumentServiceFixture fixture)
{
    private const int PartSize = 5 * 1024 * 1024;

    [Fact]
    public async Task A_cut_upload_leaves_no_parts_in_the_local_s3()
    {
        var before = UploadFolders();
        var patient = await fixture.CreatePatientAsync();
        using var client = fixture.Client();
        // Past two parts: parts are stored before the client goes away.
        await FailingStream.CutUploadAsync(client, patient, 12 * 1024 * 1024);

        await WaitUntilAsync(() => !UploadFolders().Except(before).Any(), "the cut upload's parts to be removed");
        using var s3 = fixture.S3();
        var objects = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "documents", Prefix = $"patients/{patient:N}/" });
        Assert.Empty(objects.S3Objects ?? []);
    }

    [Fact]
    public async Task The_sweeper_discards_an_old_ledgered_upload_whose_clean_up_never_ran()
    {
        using var s3 = fixture.S3();
        var key = $"patients/{Guid.NewGuid():N}/{Guid.NewGuid():N}";
        var uploadId = await StartUploadWithOnePartAsync(s3, key);
        var catalog = fixture.Factory.Services.GetRequiredService<DocumentCatalog>();
        await catalog.AddPendingAsync(uploadId, key, DateTime.UtcNow.AddHours(-7), CancellationToken.None);
        Assert.Contains(uploadId, UploadFolders());

        var (discarded, _) = await fixture.Factory.Services.GetRequiredService<OrphanSweeper>().SweepAsync(TimeSpan.FromHours(6), CancellationToken.None);

        Assert.True(discarded >= 1);
        Assert.DoesNotContain(uploadId, UploadFolders());
        Assert.DoesNotContain(await catalog.PendingOlderThanAsync(DateTime.UtcNow, CancellationToken.None), p => p.UploadId == uploadId);
        var missing = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.GetObjectMetadataAsync("documents", key));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task A_ledger_entry_that_outlived_its_upload_is_dropped_and_does_not_stop_the_sweep()
    {
        // As after a commit that failed with PostgreSQL down: the upload completed and its object was deleted, but the
        // ledger entry could not be removed.
        using var s3 = fixture.S3();
        var key = $"patients/{Guid.NewGuid():N}/{Guid.NewGuid():N}";
        var uploadId = await StartUploadWithOnePartAsync(s3, key);
        await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = "documents", Key = key, UploadId = uploadId, PartETags = [new PartETag(1, "")] });
        await s3.DeleteObjectAsync("documents", key);
        var catalog = fixture.Factory.Services.GetRequiredService<DocumentCatalog>();
        await catalog.AddPendingAsync(uploadId, key, DateTime.UtcNow.AddHours(-8), CancellationToken.None);

        await fixture.Factory.Services.GetRequiredService<OrphanSweeper>().SweepAsync(TimeSpan.FromHours(6), CancellationToken.None);

        Assert.DoesNotContain(await catalog.PendingOlderThanAsync(DateTime.UtcNow, CancellationToken.None), p => p.UploadId == uploadId);
        var missing = await Assert.ThrowsAsync<AmazonS3Exception>(() => s3.GetObjectMetadataAsync("documents", key));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Where_uploads_can_be_listed_the_sweeper_discards_old_ones_it_never_ledgered_and_keeps_younger_ones()
    {
        await using var moto = await MotoServer.StartAsync();
        using var s3 = S3BucketConnection.Parse($"Endpoint={moto.Url};AccessKey=test;SecretKey=test;Bucket=documents").CreateClient();
        await s3.PutBucketAsync("documents");
        var key = $"patients/{Guid.NewGuid():N}/{Guid.NewGuid():N}";
        var uploadId = await StartUploadWithOnePartAsync(s3, key);
        var catalog = fixture.Factory.Services.GetRequiredService<DocumentCatalog>();
        var options = Options.Create(new DocumentOptions { Bucket = "documents" });
        var sweeper = new OrphanSweeper(s3, catalog, options, TimeProvider.System, NullLogger<OrphanSweeper>.Instance);

        // moto reports every upload as initiated on 2010-11-10, so the ages are chosen around that date.
        Assert.Equal(0, (await sweeper.SweepAsync(DateTime.UtcNow - new DateTime(2010, 1, 1, 0, 0, 0, DateTimeKind.Utc), CancellationToken.None)).Discarded);
        Assert.Equal([uploadId], await ListUploadIdsAsync(s3));

        Assert.True((await sweeper.SweepAsync(TimeSpan.FromHours(1), CancellationToken.None)).Discarded >= 1);
        Assert.Empty(await ListUploadIdsAsync(s3));
        Assert.Empty((await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "documents" })).S3Objects ?? []);
    }

    private static async Task<string> StartUploadWithOnePartAsync(AmazonS3Client s3, string key)
    {
        var started = await s3.InitiateMultipartUploadAsync("documents", key);
        await s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = "documents",
            Key = key,
            UploadId = started.UploadId,
            PartNumber = 1,
            InputStream = new MemoryStream(new byte[PartSize]),
            UseChunkEncoding = false,
        });
        return started.UploadId;
    }

    private static async Task<List<string>> ListUploadIdsAsync(AmazonS3Client s3) =>
        [.. ((await s3.ListMultipartUploadsAsync("documents")).MultipartUploads ?? []).Select(u => u.UploadId)];

    /// <summary>Ids of the multipart uploads s3rver holds (one folder each, parts inside).</summary>
    private HashSet<string> UploadFolders()
    {
        var folder = Path.Combine(fixture.S3DataDirectory, "documents", "._S3rver_uploads");
        return Directory.Exists(folder) ? [.. Directory.GetDirectories(folder).Select(d => Path.GetFileName(d))] : [];
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Timed out waiting for " + what);
            await Task.Delay(200);
        }
    }

    /// <summary>moto's S3 server (Python package moto[server], <c>moto_server</c> on PATH) on a free loopback port.</summary>
    private sealed class MotoServer : IAsyncDisposable
    {
        private readonly Process _process;

        private MotoServer(Process process, string url)
        {
            _process = process;
            Url = url;
        }

        public string Url { get; }

        public static async Task<MotoServer> StartAsync()
        {
            int port;
            using (var probe = new TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                port = ((IPEndPoint)probe.LocalEndpoint).Port;
            }
            var start = new ProcessStartInfo("moto_server", ["-H", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            var server = new MotoServer(Process.Start(start) ?? throw new InvalidOperationException("moto_server did not start."), $"http://127.0.0.1:{port}");
            server._process.OutputDataReceived += (_, _) => { };
            server._process.ErrorDataReceived += (_, _) => { };
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                try
                {
                    using var answer = await http.GetAsync(server.Url + "/");
                    if (answer.IsSuccessStatusCode) return server;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    // Not listening yet.
                }
                if (DateTime.UtcNow > deadline || server._process.HasExited)
                {
                    await server.DisposeAsync();
                    throw new InvalidOperationException("moto_server did not answer within a minute.");
                }
                await Task.Delay(250);
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
    }
}
