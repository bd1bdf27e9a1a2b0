using System.Threading.Channels;

namespace Pii.Crypto.Streams;

/// <summary>One frame travelling through <see cref="OrderedFramePipeline"/>: input and output are pooled buffers.</summary>
internal sealed class FrameWork
{
    public required byte[] Input { get; init; }

    public required byte[] Output { get; init; }

    public required FrameInfo Frame { get; init; }

    public int OutputLength { get; set; }
}

/// <summary>
/// Runs frames through a CPU-bound transform on the thread pool while a single producer reads them in order and a
/// single consumer writes them in the same order. At most <c>degree</c> frames wait in the queue (plus one being read
/// and one being written), so memory is bounded by frame size × (degree + 2) whatever the message size.
/// </summary>
internal static class OrderedFramePipeline
{
    public static async Task RunAsync(
        int degree,
        Func<CancellationToken, ValueTask<FrameWork>> readNext,
        Action<FrameWork> transform,
        Func<FrameWork, CancellationToken, ValueTask> write,
        Action<FrameWork> release,
        CancellationToken cancellationToken)
    {
        var queue = Channel.CreateBounded<Task<FrameWork>>(new BoundedChannelOptions(degree) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = ProduceAsync(queue.Writer, readNext, transform, release, stop.Token);
        try
        {
            await foreach (var pending in queue.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                var work = await pending.ConfigureAwait(false);
                try
                {
                    await write(work, stop.Token).ConfigureAwait(false);
                }
                finally
                {
                    release(work);
                }
            }
        }
        catch
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await DrainAsync(queue.Reader, producer, release).ConfigureAwait(false);
            throw;
        }
        // The producer's own failure (e.g. a truncated or tampered frame layout) surfaces here.
        await producer.ConfigureAwait(false);
    }

    private static async Task ProduceAsync(
        ChannelWriter<Task<FrameWork>> queue,
        Func<CancellationToken, ValueTask<FrameWork>> readNext,
        Action<FrameWork> transform,
        Action<FrameWork> release,
        CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            while (true)
            {
                var work = await readNext(cancellationToken).ConfigureAwait(false);
                var task = Task.Run(() => Transform(work, transform, release), CancellationToken.None);
                await queue.WriteAsync(task, cancellationToken).ConfigureAwait(false);
                if (work.Frame.IsFinal)
                {
                    break;
                }
            }
        }
        finally
        {
            queue.TryComplete();
        }
    }

    private static FrameWork Transform(FrameWork work, Action<FrameWork> transform, Action<FrameWork> release)
    {
        try
        {
            transform(work);
            return work;
        }
        catch
        {
            release(work);
            throw;
        }
    }

    private static async Task DrainAsync(ChannelReader<Task<FrameWork>> queue, Task producer, Action<FrameWork> release)
    {
        try
        {
            await producer.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The consumer's exception is the one reported; the producer only stopped because of it.
        }
        while (queue.TryRead(out var pending))
        {
            try
            {
                release(await pending.ConfigureAwait(false));
            }
            catch (Exception)
            {
                // A frame that failed after the first failure: its buffers were released by Transform.
            }
        }
    }
}
