using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Pii.AppHost.Hosting;

namespace Pii.AppHost.Tests.Hosting;

/// <summary>The non-root answer to a missing Debian package: the exact command to run, and nothing installed.</summary>
public sealed class PrerequisitesTests
{
    private const string Absent = "piiaspire-no-such-package";

    [Fact]
    public async Task A_missing_package_without_root_names_the_exact_command_and_installs_nothing()
    {
        var progress = new StringWriter();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Prerequisites.EnsureAptPackagesAsync(["coreutils", Absent], asRoot: false, progress, CancellationToken.None));

        Assert.Equal(
            $"Missing Debian packages: {Absent}. Run as root: sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends {Absent}'",
            error.Message);
        Assert.Empty(progress.ToString());
    }

    [Fact]
    public async Task Installed_packages_need_nothing_without_root()
    {
        var progress = new StringWriter();

        await Prerequisites.EnsureAptPackagesAsync(["coreutils", "dpkg"], asRoot: false, progress, CancellationToken.None);

        Assert.Empty(progress.ToString());
    }
}
