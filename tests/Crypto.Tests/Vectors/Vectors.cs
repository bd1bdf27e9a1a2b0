using System.Text.Json;

namespace Pii.Crypto.Tests.Vectors;

/// <summary>The checked-in vectors made by make_vectors.py with python3 cryptography.</summary>
internal static class CheckedInVectors
{
    private static readonly Lazy<JsonDocument> Document = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "vectors.json"))));

    public static IEnumerable<JsonElement> Section(string name) => Document.Value.RootElement.GetProperty(name).EnumerateArray();

    public static byte[] Hex(this JsonElement element, string property) => Convert.FromHexString(element.GetProperty(property).GetString()!);

    public static string Text(this JsonElement element, string property) => element.GetProperty(property).GetString()!;
}
