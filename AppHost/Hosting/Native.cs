using System.Runtime.InteropServices;
using System.Runtime.Versioning;

// The launcher relies on POSIX sessions, signals and /proc: Linux only (PLATFORM.md: Debian 12).
[assembly: SupportedOSPlatform("linux")]

namespace Pii.AppHost.Hosting;

/// <summary>The few POSIX calls the launcher needs that .NET does not expose: signals to a process or a process group.</summary>
internal static partial class Native
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEffectiveUserId();

    public static bool IsRoot => GetEffectiveUserId() == 0;

    /// <summary>Sends <paramref name="signal"/> to one process; false when it no longer exists.</summary>
    public static bool SignalProcess(int pid, int signal) => pid > 0 && Kill(pid, signal) == 0;

    /// <summary>Sends <paramref name="signal"/> to every process of the group led by <paramref name="groupId"/>.</summary>
    public static bool SignalGroup(int groupId, int signal) => groupId > 0 && Kill(-groupId, signal) == 0;

    /// <summary>Process ids whose process group is <paramref name="groupId"/>, read from /proc (zombies excluded).</summary>
    public static IReadOnlyList<int> ProcessesInGroup(int groupId)
    {
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid)) continue;
            string stat;
            try { stat = File.ReadAllText(Path.Combine(directory, "stat")); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            // Format: pid (comm) state ppid pgrp ... — comm may contain spaces, so parse after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 2 && fields[0] != "Z" && int.TryParse(fields[2], out var group) && group == groupId) found.Add(pid);
        }
        return found;
    }
}
