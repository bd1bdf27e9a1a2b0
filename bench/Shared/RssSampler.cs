using System.Globalization;

/// <summary>Samples a process's VmRSS every 20 ms until stopped; returns the maximum seen (linked into the documents and backup benches).</summary>
internal sealed class RssSampler : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task<long> _loop;

    public RssSampler(int pid) => _loop = Task.Run(async () =>
    {
        long peak = 0;
        while (!_stop.IsCancellationRequested)
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    peak = Math.Max(peak, long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024);
                }
            }
            await Task.Delay(20);
        }
        return peak;
    });

    public long Stop()
    {
        _stop.Cancel();
        return _loop.GetAwaiter().GetResult();
    }

    public void Dispose() => _stop.Dispose();
}
