using System.Diagnostics;
using System.Text.Json;

namespace Pii.Cli.Tests;

/// <summary>Runs the built CLI (pii.dll beside the tests) as a real process, with stdin, stdout, stderr and exit code.</summary>
internal static class PiiProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string Output => Stdout.Trim();
    }

    public static async Task<Result> RunAsync(string stdin, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "pii.dll"));
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    private static readonly Lazy<JsonDocument> Vectors = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "vectors.json"))));

    /// <summary>The python-made vectors checked in under tests/Crypto.Tests/Vectors.</summary>
    public static IEnumerable<JsonElement> VectorSection(string name) => Vectors.Value.RootElement.GetProperty(name).EnumerateArray();
}
