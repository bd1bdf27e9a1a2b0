using Pii.Crypto.Streams;
using static Pii.Crypto.Tests.Streams.StreamTestSupport;

namespace Pii.Crypto.Tests.Streams;

/// <summary>The parallel paths keep a bounded number of frames in flight and write them in order.</summary>
public sealed class ParallelPipelineTests
{
    private const int F = 4096;
    private const int Degree = 3;

    [Fact]
    public async Task Encryption_reads_at_most_a_few_frames_ahead_of_what_it_wrote()
    {
        var plaintext = RandomBytes(200 * F + 5);
        var source = new CountingStream(new MemoryStream(plaintext));
        var maxFramesAhead = 0L;
        var sink = new ObservingStream(written => maxFramesAhead = Math.Max(maxFramesAhead, source.BytesRead / F - FramesIn(written)));
        using var aes = AesKeyring();

        await StreamEncryptor.EncryptAsync(source, sink, aes, AsciiContext, new StreamEncryptionOptions { FrameLength = F, MaxDegreeOfParallelism = Degree });

        Assert.InRange(maxFramesAhead, 1, Degree + 3);
        Assert.Equal(plaintext, (await DecryptAsync(sink.ToArray(), aes)).Plaintext);
    }

    [Fact]
    public async Task Decryption_reads_at_most_a_few_frames_ahead_of_what_it_wrote()
    {
        var plaintext = RandomBytes(200 * F + 5);
        using var aes = AesKeyring();
        var message = await EncryptAsync(plaintext, aes, AsciiContext, F);
        var source = new CountingStream(new MemoryStream(message));
        var maxFramesAhead = 0L;
        var sink = new ObservingStream(written => maxFramesAhead = Math.Max(maxFramesAhead, source.BytesRead / (F + 32) - written / F));

        await StreamDecryptor.DecryptAsync(source, sink, aes, new StreamDecryptionOptions { MaxDegreeOfParallelism = Degree });

        Assert.InRange(maxFramesAhead, 1, Degree + 3);
        Assert.Equal(plaintext, sink.ToArray());
    }

    private static long FramesIn(long ciphertextWritten) => Math.Max(0, ciphertextWritten - 300) / (F + 32);

    /// <summary>A read-only stream over another that counts the bytes handed out.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        private long bytesRead;

        public long BytesRead => Interlocked.Read(ref bytesRead);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, count);
            Interlocked.Add(ref bytesRead, read);
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await inner.ReadAsync(buffer, cancellationToken);
            Interlocked.Add(ref bytesRead, read);
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A memory stream that reports the running total after every write.</summary>
    private sealed class ObservingStream(Action<long> afterWrite) : MemoryStream
    {
        public override void Write(byte[] buffer, int offset, int count)
        {
            base.Write(buffer, offset, count);
            afterWrite(Length);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            base.Write(buffer);
            afterWrite(Length);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            base.Write(buffer.Span);
            afterWrite(Length);
            return ValueTask.CompletedTask;
        }
    }
}
