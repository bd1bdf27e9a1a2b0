extern alias documentservice;

using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Amazon.S3.Model;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OrphanSweeper = documentservice::Pii.DocumentService.Documents.OrphanSweeper;

namespace Pii.DocumentService.Tests;

/// <summary>Real faults: processes stopped mid-request, a byte flipped in S3, clients that go away.</summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class FaultTests(DocumentServiceFixture fixture)
{
    private const int Frame = 64 * 1024;

    [Fact]
    public async Task Bad_patient_empty_upload_and_oversize_fields_are_4xx_problems()
    {
        using (var missing = await fixture.UploadAsync(Guid.NewGuid(), [1, 2, 3]))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal("application/problem+json", missing.Content.Headers.ContentType!.MediaType);
        }
        var patient = await fixture.CreatePatientAsync();
        using (var empty = await fixture.UploadAsync(patient, []))
        {
            Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        }
        using (var longName = await fixture.UploadAsync(patient, [1], new string('a', 256) + ".pdf"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, longName.StatusCode);
        }
        using (var badType = await fixture.UploadAsync(patient, [1], "x.pdf", "application/" + new string('x', 200)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, badType.StatusCode);
        }
        using var client = fixture.Client();
        Assert.Empty(await client.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>($"/api/patients/{patient}/documents") ?? []);
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_upload_leaves_no_document_and_no_multipart_upload()
    {
        var patient = await fixture.CreatePatientAsync();
        using var client = fixture.Client();
        await FailingStream.CutUploadAsync(client, patient, 12 * 1024 * 1024);

        await WaitUntilAsync(async () => await PendingUploadsAsync() == 0, "the pending upload to be aborted");
        Assert.Equal(0, await DocumentCountAsync(patient));
        using var s3 = fixture.S3();
        var objects = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "documents", Prefix = $"patients/{patient:N}/" });
        Assert.Empty(objects.S3Objects ?? []);
    }

    [Fact]
    public async Task A_tampered_object_never_yields_the_tampered_frames_plaintext()
    {
        var patient = await fixture.CreatePatientAsync();
        var content = RandomNumberGenerator.GetBytes(40 * Frame);
        var id = await fixture.UploadOkAsync(patient, content);
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        var (key, prefix) = await connection.QuerySingleAsync<(string, byte[])>("SELECT object_key, ciphertext_prefix FROM documents.documents WHERE id = @id", new { id });

        var stored = await fixture.StoredObjectAsync(key);
        var headerLength = stored.Length - (40 * (Frame + 32)) - 40;
        const int tamperedFrame = 30;
        stored[headerLength + tamperedFrame * (Frame + 32) + 100] ^= 0x01;
        await fixture.ReplaceStoredObjectAsync(key, stored);

        using var client = fixture.Client();
        // A range inside the tampered frame: refused before any byte is sent.
        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/api/documents/{id}"))
        {
            request.Headers.TryAddWithoutValidation("Range", $"bytes={tamperedFrame * Frame + 10}-{tamperedFrame * Frame + 20}");
            using var response = await client.SendAsync(request);
            await RecordBindingTests.AssertIntegrityFailureAsync(response, "document");
        }
        // A range before it still reads.
        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/api/documents/{id}"))
        {
            request.Headers.TryAddWithoutValidation("Range", "bytes=0-99");
            using var response = await client.SendAsync(request);
            Assert.Equal(content[..100], await response.Content.ReadAsByteArrayAsync());
        }
        // The whole document: the stream breaks, and what arrived ends before the tampered frame.
        using var whole = await client.GetAsync($"/api/documents/{id}", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await whole.Content.ReadAsStreamAsync();
        var received = new MemoryStream();
        await Assert.ThrowsAnyAsync<Exception>(() => body.CopyToAsync(received));
        Assert.True(received.Length <= tamperedFrame * (long)Frame, $"received {received.Length} bytes");
        Assert.Equal(content[..(int)received.Length], received.ToArray());
    }

    [Theory]
    [InlineData(20)] // inside the header (a copy of it is kept with the metadata)
    [InlineData(-1)] // the final frame's tag (likewise)
    public async Task A_flipped_byte_in_the_stored_header_or_final_frame_fails_a_whole_download(int position)
    {
        var patient = await fixture.CreatePatientAsync();
        var content = RandomNumberGenerator.GetBytes(3 * Frame + 17);
        var id = await fixture.UploadOkAsync(patient, content);
        var key = await fixture.ObjectKeyAsync(id);
        var stored = await fixture.StoredObjectAsync(key);
        stored[position >= 0 ? position : stored.Length + position] ^= 0x01;
        await fixture.ReplaceStoredObjectAsync(key, stored);

        using var client = fixture.Client();
        using var whole = await client.GetAsync($"/api/documents/{id}");
        await RecordBindingTests.AssertIntegrityFailureAsync(whole, "document");
        // A range read takes those bytes from the authenticated copy, so it still returns the true content.
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/documents/{id}");
        request.Headers.TryAddWithoutValidation("Range", "bytes=0-99");
        using var partial = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal(content[..100], await partial.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_truncated_or_missing_object_is_an_integrity_failure_not_an_outage()
    {
        var patient = await fixture.CreatePatientAsync();
        var content = RandomNumberGenerator.GetBytes(5 * Frame);
        var id = await fixture.UploadOkAsync(patient, content);
        var key = await fixture.ObjectKeyAsync(id);
        var stored = await fixture.StoredObjectAsync(key);
        await fixture.ReplaceStoredObjectAsync(key, stored[..(stored.Length / 2)]);

        using var client = fixture.Client();
        using (var request = new HttpRequestMessage(HttpMethod.Get, $"/api/documents/{id}"))
        {
            // A range past the cut: S3 itself refuses it (InvalidRange), which is the object's fault, not S3 being down.
            request.Headers.TryAddWithoutValidation("Range", $"bytes={4 * Frame}-{4 * Frame + 10}");
            using var response = await client.SendAsync(request);
            await RecordBindingTests.AssertIntegrityFailureAsync(response, "document");
        }
        using (var s3 = fixture.S3())
        {
            await s3.DeleteObjectAsync("documents", key);
        }
        using (var response = await client.GetAsync($"/api/documents/{id}"))
        {
            await RecordBindingTests.AssertIntegrityFailureAsync(response, "document");
        }
        await fixture.ReplaceStoredObjectAsync(key, stored);
        Assert.Equal(content, await client.GetByteArrayAsync($"/api/documents/{id}"));
    }

    [Fact]
    public async Task Key_service_down_upload_is_503_and_a_cached_document_still_downloads()
    {
        var patient = await fixture.CreatePatientAsync();
        var content = RandomNumberGenerator.GetBytes(3 * Frame + 5);
        var id = await fixture.UploadOkAsync(patient, content);
        using var client = fixture.Client();
        Assert.Equal(content, await client.GetByteArrayAsync($"/api/documents/{id}"));

        await fixture.Resources.StopAsync("vault");
        try
        {
            using (var upload = await fixture.UploadAsync(patient, [1, 2, 3]))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, upload.StatusCode);
                Assert.Equal("application/problem+json", upload.Content.Headers.ContentType!.MediaType);
            }
            Assert.Equal(content, await client.GetByteArrayAsync($"/api/documents/{id}"));
            Assert.Equal(1, await DocumentCountAsync(patient));
            Assert.Equal(0, await PendingUploadsAsync());
        }
        finally
        {
            await fixture.Resources.StartAsync("vault", CancellationToken.None);
        }
    }

    [Fact]
    public async Task S3_down_mid_upload_and_on_download_is_503_nothing_half_visible_and_the_sweeper_cleans_up()
    {
        var patient = await fixture.CreatePatientAsync();
        // Larger than the ciphertext prefix kept in PostgreSQL, so reading it needs S3.
        var existing = await fixture.UploadOkAsync(patient, RandomNumberGenerator.GetBytes(100_000));
        var stopped = false;
        try
        {
            using var client = fixture.Client();
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/patients/{patient}/documents")
            {
                Content = new StreamContent(new PausingStream(20 * 1024 * 1024, 11 * 1024 * 1024, async () =>
                {
                    await fixture.Resources.StopAsync("s3");
                    stopped = true;
                })),
            };
            request.Headers.Add("X-File-Name", "big.bin");
            try
            {
                using var response = await client.SendAsync(request);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            }
            catch (HttpRequestException)
            {
                // The server may answer 503 and close while the client is still sending: also a failed upload.
            }
            Assert.True(stopped);
            Assert.Equal(1, await DocumentCountAsync(patient));

            using var download = await client.GetAsync($"/api/documents/{existing}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, download.StatusCode);
            Assert.Equal("application/problem+json", download.Content.Headers.ContentType!.MediaType);
        }
        finally
        {
            await fixture.Resources.StartAsync("s3", CancellationToken.None);
        }
        var sweeper = fixture.Factory.Services.GetRequiredService<OrphanSweeper>();
        await sweeper.SweepAsync(TimeSpan.Zero, CancellationToken.None);
        Assert.Equal(0, await PendingUploadsAsync());
        using var s3 = fixture.S3();
        var objects = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = "documents", Prefix = $"patients/{patient:N}/" });
        Assert.Single(objects.S3Objects);
        using var again = fixture.Client();
        Assert.Equal(100_000, (await again.GetByteArrayAsync($"/api/documents/{existing}")).Length);
    }

    [Fact]
    public async Task The_sweeper_removes_objects_without_metadata()
    {
        using var s3 = fixture.S3();
        var orphan = $"patients/{Guid.NewGuid():N}/{Guid.NewGuid():N}";
        await s3.PutObjectAsync(new PutObjectRequest { BucketName = "documents", Key = orphan, InputStream = new MemoryStream([1, 2, 3]), UseChunkEncoding = false });
        var patient = await fixture.CreatePatientAsync();
        var kept = await fixture.UploadOkAsync(patient, [7, 7]);

        var sweeper = fixture.Factory.Services.GetRequiredService<OrphanSweeper>();
        var (_, deleted) = await sweeper.SweepAsync(TimeSpan.Zero, CancellationToken.None);
        Assert.True(deleted >= 1);
        await Assert.ThrowsAsync<Amazon.S3.AmazonS3Exception>(() => s3.GetObjectMetadataAsync("documents", orphan));
        using var client = fixture.Client();
        Assert.Equal(new byte[] { 7, 7 }, await client.GetByteArrayAsync($"/api/documents/{kept}"));
    }

    private async Task<long> DocumentCountAsync(Guid patient)
    {
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM documents.documents WHERE patient_id = @patient", new { patient });
    }

    private async Task<long> PendingUploadsAsync()
    {
        await using var connection = new NpgsqlConnection(fixture.Settings["ConnectionStrings:records"]);
        return await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM documents.pending_uploads");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("Timed out waiting for " + what);
            await Task.Delay(200);
        }
    }

    /// <summary>Yields <c>length</c> random bytes, running <c>pause</c> once after <c>pauseAt</c> bytes.</summary>
    private sealed class PausingStream(long length, long pauseAt, Func<Task> pause) : Stream
    {
        private long _position;
        private bool _paused;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_paused && _position >= pauseAt)
            {
                _paused = true;
                await pause();
            }
            var n = (int)Math.Min(buffer.Length, length - _position);
            RandomNumberGenerator.Fill(buffer.Span[..n]);
            _position += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
