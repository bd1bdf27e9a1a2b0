using System.Security.Cryptography;

namespace Pii.DocumentService.Tests;

/// <summary>Yields random bytes, then throws after <c>failAfter</c> bytes: the client dies mid-body.</summary>
internal sealed class FailingStream(long failAfter) : Stream
{
    private long _position;

    /// <summary>Posts an upload to <paramref name="patient"/> whose client dies after <paramref name="failAfter"/> bytes.</summary>
    public static async Task CutUploadAsync(HttpClient client, Guid patient, long failAfter)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/patients/{patient}/documents")
        {
            Content = new StreamContent(new FailingStream(failAfter)),
        };
        request.Headers.Add("X-File-Name", "partial.bin");
        await Assert.ThrowsAnyAsync<Exception>(() => client.SendAsync(request));
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (_position >= failAfter) throw new IOException("client gone");
        var n = (int)Math.Min(count, failAfter - _position);
        RandomNumberGenerator.Fill(buffer.AsSpan(offset, n));
        _position += n;
        return n;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
