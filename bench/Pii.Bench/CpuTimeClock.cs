using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace Pii.Bench;

/// <summary>
/// A BenchmarkDotNet clock that reads this process's CPU time (clock_gettime(CLOCK_PROCESS_CPUTIME_ID), ns resolution)
/// instead of wall time. On a machine shared with other CPU-bound work, wall time mostly measures waiting for a core;
/// CPU time measures what an operation costs on one core, which is what the targets are about.
/// </summary>
internal sealed partial class ProcessCpuTimeClock : IClock
{
    private const int ClockProcessCpuTimeId = 2;

    public string Title => "Process CPU time";

    public bool IsAvailable => OperatingSystem.IsLinux();

    public Frequency Frequency => Frequency.GHz;

    public long GetTimestamp()
    {
        if (ClockGetTime(ClockProcessCpuTimeId, out TimeSpec now) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed.");
        }
        return now.Seconds * 1_000_000_000L + now.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clockId, out TimeSpec time);
}

/// <summary>ShortRun, in process, timed by <see cref="ProcessCpuTimeClock"/>.</summary>
[AttributeUsage(AttributeTargets.Class)]
internal sealed class CpuTimeShortRunJobAttribute() : JobConfigBaseAttribute(
    Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithClock(new ProcessCpuTimeClock()).WithId("CpuTime"));

/// <summary>
/// As <see cref="CpuTimeShortRunJobAttribute"/> with 9 measured iterations, so the reported median is over at least
/// five runs as the project's benchmark rule asks.
/// </summary>
[AttributeUsage(AttributeTargets.Class)]
internal sealed class CpuTimeNineRunJobAttribute() : JobConfigBaseAttribute(
    Job.ShortRun.WithIterationCount(9).WithToolchain(InProcessEmitToolchain.Instance).WithClock(new ProcessCpuTimeClock()).WithId("CpuTime9"));
