using System.Security.Cryptography;
using Pii.Cli.Commands;

namespace Pii.Cli.Tests.Streams;

/// <summary>The CLI's read-ahead and write-behind wrappers: exact bytes in any piece sizes, failures surfaced, no hang.</summary>
public sealed class ChunkedIoTests
{
    private static readonly byte[] Data = RandomNumberGenerator.GetBytes(3 * WriteBehindStream.ChunkSize * WriteBehindStream.ChunkCount / 2 + 5);

    [Fact]
    public void Write_behind_delivers_every_byte_in_order_whatever_the_piece_sizes()
    {
        using var sink = new MemoryStream();
        using (var output = new WriteBehindStream(new KeepOpen(sink)))
        {
            for (int at = 0, piece = 1; at < Data.Length; at += piece, piece = piece * 7 % 300_001 + 1)
            {
                output.Write(Data, at, Math.Min(piece, Data.Length - at));
            }
            output.Complete();
        }
        Assert.Equal(Data, sink.ToArray());
    }

    [Fact]
    public void Write_behind_rethrows_a_failed_write_to_the_producer()
    {
        using var output = new WriteBehindStream(new FailingStream());
        var failure = Assert.Throws<IOException>(() =>
        {
            foreach (var piece in Data.Chunk(65_536))
            {
                output.Write(piece);
            }
            output.Complete();
        });
        Assert.Equal(FailingStream.Message, failure.Message);
    }

    [Fact]
    public void Read_ahead_returns_every_byte_in_order_then_end_of_stream()
    {
        using var input = new ReadAheadStream(new MemoryStream(Data));
        using var copy = new MemoryStream();
        var buffer = new byte[300_007];
        for (int piece = 1, read; (read = input.Read(buffer, 0, piece)) > 0; piece = piece * 13 % buffer.Length + 1)
        {
            copy.Write(buffer, 0, read);
        }
        Assert.Equal(Data, copy.ToArray());
        Assert.Equal(0, input.Read(buffer, 0, buffer.Length));
    }

    [Fact]
    public void Read_ahead_rethrows_a_failed_read_at_the_point_it_happened_and_after()
    {
        using var input = new ReadAheadStream(new FailingStream());
        var buffer = new byte[1024];
        Assert.Equal(FailingStream.Message, Assert.Throws<IOException>(() => input.Read(buffer, 0, buffer.Length)).Message);
        Assert.Throws<IOException>(() => input.Read(buffer, 0, buffer.Length));
    }

    [Fact]
    public void Read_ahead_can_be_disposed_before_the_input_is_consumed()
    {
        var input = new ReadAheadStream(new MemoryStream(Data));
        Assert.Equal(10, input.Read(new byte[10], 0, 10));
        input.Dispose();
        Assert.Throws<ObjectDisposedException>(() => input.Read(new byte[10], 0, 10));
    }

    /// <summary>Every read and write fails, as a closed pipe would.</summary>
    private sealed class FailingStream : Stream
    {
        public const string Message = "the pipe is gone";
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => throw new IOException(Message);
        public override int Read(byte[] buffer, int offset, int count) => throw new IOException(Message);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new IOException(Message);
    }

    /// <summary>Lets the test read a MemoryStream after the wrapper disposed what it wraps.</summary>
    private sealed class KeepOpen(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
    }
}
