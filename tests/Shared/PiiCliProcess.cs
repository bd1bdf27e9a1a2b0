using System.Diagnostics;

namespace Pii.Testing;

/// <summary>
/// Runs the built CLI (pii.dll copied beside the tests) as a real process: bytes on stdin, bytes from stdout, text
/// from stderr, the exit code. Shared as linked source by every test project that calls <c>pii</c>.
/// </summary>
public static class PiiCliProcess
{
    public sealed record Result(int ExitCode, byte[] Stdout, string Stderr);

    public static async Task<Result> RunAsync(byte[] stdin, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "pii.dll"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        using var stdout = new MemoryStream();
        var copyOut = process.StandardOutput.BaseStream.CopyToAsync(stdout);
        var readErr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.StandardInput.BaseStream.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The process may exit (usage error, rejected input) before reading all of its input.
        }

        await copyOut;
        var stderr = await readErr;
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return new Result(process.ExitCode, stdout.ToArray(), stderr);
    }
}
