using Pii.AppHost.Hosting;

namespace Pii.AppHost.Tests.Hosting;

public sealed class ShutdownTests
{
    [Fact]
    public async Task Stop_shuts_PostgreSQL_and_MariaDB_down_cleanly_within_the_grace_period()
    {
        var model = LocalResources.CreateModel("shutdown");
        var postgres = model.AddPostgres("postgres");
        var mysql = model.AddMariaDb("mysql");
        var resources = await LocalResources.StartAsync(model);
        var groups = new[] { postgres.Child!.GroupId, mysql.Child!.GroupId };

        await resources.DisposeAsync();

        // PostgreSQL: SIGINT = fast shutdown with a checkpoint; MariaDB: SIGTERM = normal shutdown. Both exit 0.
        Assert.Contains(postgres.Log.Snapshot(), l => l.Text.Contains("database system is shut down", StringComparison.Ordinal));
        Assert.Equal(0, postgres.ExitCode);
        Assert.Contains(mysql.Log.Snapshot(), l => l.Text.Contains("Shutdown complete", StringComparison.Ordinal));
        Assert.Equal(0, mysql.ExitCode);
        Assert.All(groups, g => Assert.Empty(Native.ProcessesInGroup(g)));
    }
}
