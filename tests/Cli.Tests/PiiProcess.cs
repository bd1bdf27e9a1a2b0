using System.Text;
using System.Text.Json;
using Pii.Testing;

namespace Pii.Cli.Tests;

/// <summary>Text in and out of the real CLI process (<see cref="PiiCliProcess"/>), and the checked-in vectors.</summary>
internal static class PiiProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string Output => Stdout.Trim();
    }

    public static async Task<Result> RunAsync(string stdin, params string[] args)
    {
        var result = await PiiCliProcess.RunAsync(Encoding.UTF8.GetBytes(stdin), args);
        return new Result(result.ExitCode, Encoding.UTF8.GetString(result.Stdout), result.Stderr);
    }

    private static readonly Lazy<JsonDocument> Vectors = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "vectors.json"))));

    /// <summary>The python-made vectors checked in under tests/Crypto.Tests/Vectors.</summary>
    public static IEnumerable<JsonElement> VectorSection(string name) => Vectors.Value.RootElement.GetProperty(name).EnumerateArray();
}
