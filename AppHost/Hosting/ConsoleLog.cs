using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Pii.AppHost.Dashboard;

namespace Pii.AppHost.Hosting;

/// <summary>
/// The console output of one resource: a bounded ring buffer (oldest lines evicted) plus live watchers.
/// A slow watcher loses its oldest unread lines rather than slowing the child down.
/// </summary>
public sealed class ConsoleLog(string resourceName, int capacity = 2000)
{
    private readonly object _gate = new();
    private readonly Queue<ConsoleLine> _lines = new();
    private readonly List<Channel<ConsoleLine>> _watchers = [];

    public string ResourceName { get; } = resourceName;

    public int Capacity { get; } = capacity;

    public void Append(string text, bool isError)
    {
        var line = new ConsoleLine(DateTimeOffset.UtcNow, ResourceName, isError, text);
        lock (_gate)
        {
            if (_lines.Count == Capacity) _lines.Dequeue();
            _lines.Enqueue(line);
            foreach (var watcher in _watchers) watcher.Writer.TryWrite(line);
        }
    }

    public IReadOnlyList<ConsoleLine> Snapshot()
    {
        lock (_gate) return [.. _lines];
    }

    /// <summary>The last <paramref name="count"/> lines, joined for an error message.</summary>
    public string Tail(int count)
    {
        lock (_gate) return string.Join(Environment.NewLine, _lines.Skip(Math.Max(0, _lines.Count - count)).Select(l => l.Text));
    }

    public async IAsyncEnumerable<ConsoleLine> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<ConsoleLine>(new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropOldest });
        IReadOnlyList<ConsoleLine> buffered;
        lock (_gate)
        {
            buffered = [.. _lines];
            _watchers.Add(channel);
        }
        try
        {
            foreach (var line in buffered) yield return line;
            while (await channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (channel.Reader.TryRead(out var line)) yield return line;
            }
        }
        finally
        {
            lock (_gate) _watchers.Remove(channel);
        }
    }
}
