using System.Buffers;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Pii.DocumentService.Documents;

/// <summary>
/// Write-only stream into one S3 multipart upload: bytes fill a part buffer (<c>partSize</c> bytes); a full buffer is
/// uploaded in the background while the next fills, with at most <c>maxInFlight</c> parts uploading. Memory is
/// therefore bounded by (maxInFlight + 1) × partSize whatever the object size. <see cref="CompleteAsync"/> uploads
/// the last part and completes the upload; on any failure the caller aborts the upload (this stream never does, so
/// the abort also happens when the failure came from the producer side).
/// The stream keeps its own part buffers and reuses them from part to part, giving them back to the shared pool only
/// when disposed: handing each uploaded part's buffer back to <see cref="ArrayPool{T}.Shared"/> parked it in the
/// finishing thread's local slot, out of reach of the thread renting the next one, so an upload allocated a new
/// 8 MiB buffer most parts until every pool thread held one (64 MiB instead of 24 in a 500 MiB upload).
/// </summary>
internal sealed class S3MultipartWriteStream(
    IAmazonS3 s3, string bucket, string key, string uploadId, int partSize, int maxInFlight, ArrayPool<byte>? bufferPool = null) : Stream
{
    private readonly ArrayPool<byte> _pool = bufferPool ?? ArrayPool<byte>.Shared;
    private readonly SemaphoreSlim _slots = new(maxInFlight, maxInFlight);
    private readonly List<Task<PartETag>> _parts = [];
    private readonly Stack<byte[]> _idleBuffers = new();
    private readonly byte[] _prefix = new byte[PrefixLength];
    private readonly byte[] _lastWrite = [];
    private int _lastWriteLength;
    private byte[]? _buffer;
    private int _filled;
    private long _written;

    /// <summary>How many leading bytes are kept (<see cref="Prefix"/>): enough for a message header with a few EDKs.</summary>
    public const int PrefixLength = 4096;

    /// <summary>The first up to <see cref="PrefixLength"/> bytes written (stored with the metadata so reads skip one S3 GET).</summary>
    public ReadOnlyMemory<byte> Prefix => _prefix.AsMemory(0, (int)Math.Min(_written, PrefixLength));

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _written; set => throw new NotSupportedException(); }

    /// <summary>
    /// The last bytes of the most recent write (at most <c>suffixCapacity</c>): the message's final frame is written in
    /// one piece, so after completion this holds it, and range reads need not fetch it from S3.
    /// </summary>
    public ReadOnlyMemory<byte> LastWrite => _lastWrite.AsMemory(0, _lastWriteLength);

    /// <summary>How many bytes of the last write to keep; set before writing.</summary>
    public int SuffixCapacity
    {
        get => _lastWrite.Length;
        init => _lastWrite = new byte[value];
    }

    /// <summary>Bytes accepted so far (the ciphertext length once complete).</summary>
    public long BytesWritten => _written;

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _lastWriteLength = Math.Min(buffer.Length, _lastWrite.Length);
        buffer[^_lastWriteLength..].CopyTo(_lastWrite);
        while (!buffer.IsEmpty)
        {
            _buffer ??= TakeBuffer();
            var take = Math.Min(partSize - _filled, buffer.Length);
            buffer[..take].CopyTo(_buffer.AsMemory(_filled));
            if (_written < PrefixLength)
            {
                var keep = (int)Math.Min(PrefixLength - _written, take);
                buffer[..keep].CopyTo(_prefix.AsMemory((int)_written));
            }
            _filled += take;
            _written += take;
            buffer = buffer[take..];
            if (_filled == partSize) await StartPartAsync(cancellationToken);
        }
    }

    /// <summary>Uploads the last part, waits for all parts and completes the upload.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        if (_filled > 0 || _parts.Count == 0) await StartPartAsync(cancellationToken);
        var etags = await Task.WhenAll(_parts);
        await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = bucket,
            Key = key,
            UploadId = uploadId,
            PartETags = [.. etags.OrderBy(p => p.PartNumber)],
        }, cancellationToken);
    }

    /// <summary>Waits for uploads still running (their failures are ignored: the caller is aborting).</summary>
    public async Task DrainAsync()
    {
        try
        {
            await Task.WhenAll(_parts);
        }
        catch (Exception e) when (e is AmazonServiceException or HttpRequestException or OperationCanceledException or IOException)
        {
            // Already failing: the abort that follows removes whatever parts arrived.
        }
    }

    private async Task StartPartAsync(CancellationToken cancellationToken)
    {
        // A part that already failed makes the whole upload fail now rather than after the rest of the body.
        foreach (var done in _parts.Where(p => p.IsFaulted || p.IsCanceled)) await done;
        await _slots.WaitAsync(cancellationToken);
        var buffer = _buffer ?? [];
        var length = _filled;
        var partNumber = _parts.Count + 1;
        _buffer = null;
        _filled = 0;
        _parts.Add(UploadPartAsync(buffer, length, partNumber, cancellationToken));
    }

    private async Task<PartETag> UploadPartAsync(byte[] buffer, int length, int partNumber, CancellationToken cancellationToken)
    {
        try
        {
            using var content = new MemoryStream(buffer, 0, length, writable: false);
            var response = await s3.UploadPartAsync(new UploadPartRequest
            {
                BucketName = bucket,
                Key = key,
                UploadId = uploadId,
                PartNumber = partNumber,
                PartSize = length,
                InputStream = content,
                UseChunkEncoding = false,
            }, cancellationToken);
            return new PartETag(partNumber, response.ETag);
        }
        finally
        {
            GiveBack(buffer);
            _slots.Release();
        }
    }

    /// <summary>An idle buffer of this upload, else a new one from the pool (at most maxInFlight + 1 are ever taken).</summary>
    private byte[] TakeBuffer()
    {
        lock (_idleBuffers)
        {
            if (_idleBuffers.TryPop(out var idle)) return idle;
        }
        return _pool.Rent(partSize);
    }

    /// <summary>Keeps an uploaded part's buffer for the next part (all go back to the pool on dispose).</summary>
    private void GiveBack(byte[] buffer)
    {
        if (buffer.Length == 0) return;
        lock (_idleBuffers) _idleBuffers.Push(buffer);
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_idleBuffers)
            {
                if (_buffer is not null) _idleBuffers.Push(_buffer);
                _buffer = null;
                while (_idleBuffers.TryPop(out var idle)) _pool.Return(idle);
            }
            _slots.Dispose();
        }
        base.Dispose(disposing);
    }
}
