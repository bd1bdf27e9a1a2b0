using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Pii.AppHost.Hosting;

/// <summary>One-shot helpers of the resources: running a setup tool (initdb, mariadb-install-db) and checking names.</summary>
internal static partial class Tools
{
    internal static async Task RunAsync(string fileName, IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? failureHint = null)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        // A stop during first-run setup must not leave initdb or mariadb-install-db running.
        await using var kill = cancellationToken.Register(() => process.Kill(entireProcessTree: true));
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            var output = (await stdout + await stderr).Trim();
            throw new InvalidOperationException(failureHint ?? $"{Path.GetFileName(fileName)} failed with exit code {process.ExitCode}: {(output.Length > 1500 ? output[^1500..] : output)}");
        }
    }

    /// <summary>A plain lower-case identifier (database, user, schema, bucket), double-quoted for PostgreSQL.</summary>
    internal static string QuotedIdentifier(string name) =>
        IdentifierPattern().IsMatch(name) ? $"\"{name}\"" : throw new ArgumentException($"'{name}' is not a plain lower-case SQL identifier.", nameof(name));

    /// <summary>
    /// The resource name of a database user: <c>&lt;database&gt;-&lt;user&gt;</c> with '_' as '-' (resource names allow no '_'),
    /// and a user already named after its database not repeated (<c>dnc_intake</c> in <c>dnc</c> is <c>dnc-intake</c>).
    /// </summary>
    internal static string ResourceName(string database, string user) =>
        (user.StartsWith(database + "_", StringComparison.Ordinal) ? user : $"{database}-{user}").Replace('_', '-');

    [GeneratedRegex("^[a-z_][a-z0-9_]{0,62}$")]
    private static partial Regex IdentifierPattern();
}
