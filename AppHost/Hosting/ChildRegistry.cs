using System.Globalization;

namespace Pii.AppHost.Hosting;

/// <summary>
/// A file listing the process groups an AppHost started (pid + kernel start time, so a reused pid is never hit).
/// Children live in their own sessions, so if the AppHost itself is SIGKILLed they survive it; the next AppHost on
/// the same data folder stops them (SIGTERM to each group, 6 s, SIGKILL) before starting its own.
/// </summary>
public sealed class ChildRegistry(string path)
{
    private readonly object _gate = new();

    public void Record(int pid)
    {
        if (StartTime(pid) is not { } started) return;
        lock (_gate) File.AppendAllText(path, $"{pid} {started}{Environment.NewLine}");
    }

    /// <summary>Stops every recorded group that still runs; returns how many there were. Empties the file.</summary>
    public async Task<int> StopLeftoversAsync(TimeSpan grace)
    {
        if (!File.Exists(path)) return 0;
        var alive = new List<int>();
        foreach (var line in await File.ReadAllLinesAsync(path))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var pid) && StartTime(pid) == parts[1]) alive.Add(pid);
        }
        foreach (var pid in alive) Native.SignalGroup(pid, Native.SigTerm);
        var deadline = DateTime.UtcNow + grace;
        while (alive.Any(p => Native.ProcessesInGroup(p).Count > 0) && DateTime.UtcNow < deadline) await Task.Delay(100);
        foreach (var pid in alive) Native.SignalGroup(pid, Native.SigKill);
        deadline = DateTime.UtcNow.AddSeconds(5);
        while (alive.Any(p => Native.ProcessesInGroup(p).Count > 0) && DateTime.UtcNow < deadline) await Task.Delay(50);
        File.Delete(path);
        return alive.Count;
    }

    /// <summary>Field 22 of /proc/PID/stat (start time in clock ticks since boot), or null when the pid is gone.</summary>
    private static string? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
        }
        catch (IOException)
        {
            return null;
        }
    }
}
