using Pii.AppHost.Hosting;

namespace Pii.AppHost.Tests.Hosting;

/// <summary>The launcher's state machine with real child processes (sh, sleep): waits, failures, crashes, stop.</summary>
public sealed class OrchestrationTests : IDisposable
{
    private readonly List<AppModel> _models = [];

    private AppModel CreateModel(string name)
    {
        var model = LocalResources.CreateModel(name);
        _models.Add(model);
        return model;
    }

    public void Dispose()
    {
        foreach (var model in _models) Directory.Delete(Path.GetDirectoryName(model.Options.DataRoot)!, recursive: true);
    }

    private static async Task WaitUntilAsync(Func<bool> condition, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task A_failing_dependency_fails_its_dependants_with_its_name_and_reason()
    {
        var model = CreateModel("waitfor");
        var broken = model.AddExecutable("broken", "sh", "-c", "echo cannot-open-config >&2; exit 7");
        broken.HealthCheck = _ => Task.FromResult(HealthResult.Unhealthy("never"));
        var dependant = model.AddExecutable("dependant", "sleep", "60").WaitFor(broken);
        var secondHop = model.AddExecutable("second-hop", "sleep", "60").WaitFor(dependant);
        await using var launcher = model.Build();
        launcher.Start();

        var failure = await Assert.ThrowsAsync<ResourceFailedException>(() => launcher.WaitForAllReadyAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
        await WaitUntilAsync(() => ResourceStates.IsTerminal(secondHop.State));

        Assert.Contains("exited with code 7", broken.StateMessage, StringComparison.Ordinal);
        Assert.Contains("cannot-open-config", broken.StateMessage, StringComparison.Ordinal);
        Assert.Equal(ResourceStates.FailedToStart, dependant.State);
        Assert.Contains("dependency 'broken'", dependant.StateMessage, StringComparison.Ordinal);
        Assert.Null(dependant.StartTime);
        Assert.Equal(ResourceStates.FailedToStart, secondHop.State);
        Assert.Contains("dependency 'dependant'", secondHop.StateMessage, StringComparison.Ordinal);
        Assert.Contains("broken", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failed_provisioning_step_stops_the_process_and_reports_the_step_s_reason()
    {
        var model = CreateModel("provision");
        var server = model.AddExecutable("server", "sleep", "60");
        server.OnReady.Add(_ => throw new InvalidOperationException("the key service refused formapi's token"));
        var dependant = model.AddExecutable("dependant", "sleep", "60").WaitFor(server);
        await using var launcher = model.Build();
        launcher.Start();

        await Assert.ThrowsAsync<ResourceFailedException>(() => launcher.WaitForAllReadyAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
        await WaitUntilAsync(() => ResourceStates.IsTerminal(dependant.State));

        Assert.Equal(ResourceStates.FailedToStart, server.State);
        Assert.Contains("refused formapi's token", server.StateMessage, StringComparison.Ordinal);
        Assert.True(server.Child!.HasExited);
        Assert.Contains("refused formapi's token", dependant.StateMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_crash_shows_as_Exited_with_its_last_lines_and_the_others_keep_running()
    {
        var model = CreateModel("crash");
        var crasher = model.AddExecutable("crasher", "sh", "-c", "echo starting; sleep 1; echo 'fatal: disk on fire' >&2; exit 3");
        var steady = model.AddExecutable("steady", "sleep", "60");
        await using var launcher = model.Build();
        launcher.Start();
        await launcher.WaitForAllReadyAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        await WaitUntilAsync(() => crasher.State == ResourceStates.Exited);
        Assert.Equal(3, crasher.ExitCode);
        Assert.Contains("fatal: disk on fire", crasher.StateMessage, StringComparison.Ordinal);
        var snapshot = launcher.GetResources().Single(r => r.Name == "crasher");
        Assert.Equal(ResourceStates.Exited, snapshot.State);
        Assert.Null(snapshot.Pid);
        Assert.Equal(3, snapshot.ExitCode);

        Assert.Equal(ResourceStates.Running, steady.State);
        Assert.False(steady.Child!.HasExited);
    }

    [Fact]
    public async Task Stop_leaves_no_process_of_any_child_group_even_when_a_child_ignores_SIGTERM()
    {
        var model = CreateModel("orphans");
        // Spawns grandchildren and ignores SIGTERM: only the group SIGKILL after the grace period ends it.
        var stubborn = model.AddExecutable("stubborn", "sh", "-c", "trap '' TERM; sleep 300 & sleep 300 & echo spawned; wait");
        var polite = model.AddExecutable("polite", "sh", "-c", "sleep 300 & exec sleep 300");
        await using var launcher = new Launcher(model.Resources, TextWriter.Null) { StopGrace = TimeSpan.FromSeconds(1) };
        launcher.Start();
        await launcher.WaitForAllReadyAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntilAsync(() => stubborn.Log.Snapshot().Any(l => l.Text == "spawned"));
        var groups = new[] { stubborn.Child!.GroupId, polite.Child!.GroupId };
        // Each shell forks its background sleep a moment after it starts.
        await WaitUntilAsync(() => groups.All(g => Native.ProcessesInGroup(g).Count >= 2));

        await launcher.StopAsync();

        Assert.All(groups, g => Assert.Empty(Native.ProcessesInGroup(g)));
        Assert.Equal(ResourceStates.Exited, stubborn.State);
        Assert.Equal(ResourceStates.Exited, polite.State);
    }

    [Fact]
    public async Task Children_run_in_their_own_process_group_so_a_terminal_Ctrl_C_reaches_only_the_AppHost()
    {
        var model = CreateModel("pgrp");
        var child = model.AddExecutable("child", "sleep", "60");
        await using var launcher = model.Build();
        launcher.Start();
        await launcher.WaitForAllReadyAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        int GroupOf(int pid)
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
        }
        // setsid runs in the child right after the fork; give a loaded machine a moment to get there.
        await WaitUntilAsync(() => GroupOf(child.Child!.Pid) == child.Child.Pid, seconds: 5);
        Assert.NotEqual(GroupOf(Environment.ProcessId), GroupOf(child.Child!.Pid));
    }

    [Fact]
    public async Task Restart_replaces_the_process_and_counts()
    {
        var model = CreateModel("restart");
        var worker = model.AddExecutable("worker", "sleep", "60");
        await using var launcher = model.Build();
        launcher.Start();
        await launcher.WaitForAllReadyAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        var firstPid = worker.Child!.Pid;

        await launcher.RestartAsync("worker", CancellationToken.None);

        Assert.Equal(1, worker.RestartCount);
        Assert.NotEqual(firstPid, worker.Child!.Pid);
        Assert.Equal(ResourceStates.Running, worker.State);
        Assert.Empty(Native.ProcessesInGroup(firstPid));
    }

    [Fact]
    public async Task Console_output_is_captured_and_watchers_see_buffered_then_live_lines()
    {
        var model = CreateModel("console");
        var talker = model.AddExecutable("talker", "sh", "-c", "echo one; echo two >&2; sleep 1; echo three; sleep 60");
        await using var launcher = model.Build();
        launcher.Start();
        await WaitUntilAsync(() => talker.Log.Snapshot().Any(l => l.Text == "two"));

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = new List<(string Text, bool IsError)>();
        await foreach (var line in launcher.WatchConsoleAsync("talker", cancel.Token))
        {
            if (line.Text.StartsWith("[apphost]", StringComparison.Ordinal)) continue;
            seen.Add((line.Text, line.IsError));
            if (line.Text == "three") break;
        }
        // stdout and stderr are separate pipes: "one" and "two" may arrive in either order; "three" came a second later.
        Assert.Equal(["one", "three"], seen.Where(l => !l.IsError).Select(l => l.Text));
        Assert.Equal(["two"], seen.Where(l => l.IsError).Select(l => l.Text));
        Assert.Equal(("three", false), seen[^1]);
    }

    [Fact]
    public void Console_log_is_a_bounded_ring_buffer()
    {
        var log = new ConsoleLog("x", capacity: 3);
        for (var i = 1; i <= 5; i++) log.Append($"line {i}", isError: false);
        Assert.Equal(["line 3", "line 4", "line 5"], log.Snapshot().Select(l => l.Text));
        Assert.Equal($"line 4{Environment.NewLine}line 5", log.Tail(2));
    }
}

public sealed class ChildRegistryTests
{
    [Fact]
    public async Task Processes_left_by_a_killed_launcher_are_stopped_by_the_next_one()
    {
        var model = LocalResources.CreateModel("leftover");
        try
        {
            var stubborn = model.AddExecutable("stubborn", "sh", "-c", "trap '' TERM; sleep 300 & wait");
            // The first launcher is abandoned without StopAsync, as if the AppHost had been SIGKILLed.
            var abandoned = model.Build();
            abandoned.Start();
            await abandoned.WaitForAllReadyAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            var group = stubborn.Child!.GroupId;

            var next = model.Build();
            var stopped = await next.Registry!.StopLeftoversAsync(TimeSpan.FromSeconds(1));

            Assert.Equal(1, stopped);
            Assert.Empty(Native.ProcessesInGroup(group));
            Assert.Equal(0, await next.Registry.StopLeftoversAsync(TimeSpan.FromSeconds(1)));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(model.Options.DataRoot)!, recursive: true);
        }
    }
}
