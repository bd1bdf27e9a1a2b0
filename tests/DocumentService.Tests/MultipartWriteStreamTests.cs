extern alias documentservice;

using System.Buffers;
using System.Security.Cryptography;
using S3BucketConnection = documentservice::Pii.Services.Shared.S3BucketConnection;
using S3MultipartWriteStream = documentservice::Pii.DocumentService.Documents.S3MultipartWriteStream;

namespace Pii.DocumentService.Tests;

/// <summary>The upload sink against the real s3rver: bounded part buffers, every byte stored in order.</summary>
[Collection(DocumentServiceGroup.Name)]
public sealed class MultipartWriteStreamTests(DocumentServiceFixture fixture)
{
    private const int PartSize = 5 * 1024 * 1024;

    [Fact]
    public async Task An_upload_reuses_at_most_parts_in_flight_plus_one_buffers_and_stores_every_byte()
    {
        var content = RandomNumberGenerator.GetBytes(7 * PartSize + 12_345);
        using var s3 = fixture.S3();
        var bucket = S3BucketConnection.Parse(fixture.BucketConnectionString).Bucket;
        var key = "tests/multipart-" + Guid.NewGuid().ToString("N");
        var started = await s3.InitiateMultipartUploadAsync(bucket, key);
        var pool = new CountingPool();
        using (var stream = new S3MultipartWriteStream(s3, bucket, key, started.UploadId, PartSize, maxInFlight: 2, pool))
        {
            for (var offset = 0; offset < content.Length; offset += 100_000)
            {
                await stream.WriteAsync(content.AsMemory(offset, Math.Min(100_000, content.Length - offset)));
            }
            await stream.CompleteAsync(CancellationToken.None);
            Assert.Equal(content.Length, stream.BytesWritten);
        }

        // Eight parts through at most three buffers, all given back on dispose.
        Assert.InRange(pool.Rented, 1, 3);
        Assert.Equal(pool.Rented, pool.Returned);
        using var stored = await s3.GetObjectAsync(bucket, key);
        using var copy = new MemoryStream();
        await stored.ResponseStream.CopyToAsync(copy);
        Assert.Equal(SHA256.HashData(content), SHA256.HashData(copy.ToArray()));
        await s3.DeleteObjectAsync(bucket, key);
    }

    /// <summary>Hands out fresh arrays and counts what is taken and given back.</summary>
    private sealed class CountingPool : ArrayPool<byte>
    {
        private int _rented;
        private int _returned;

        public int Rented => Volatile.Read(ref _rented);
        public int Returned => Volatile.Read(ref _returned);

        public override byte[] Rent(int minimumLength)
        {
            Interlocked.Increment(ref _rented);
            return new byte[minimumLength];
        }

        public override void Return(byte[] array, bool clearArray = false) => Interlocked.Increment(ref _returned);
    }
}
