using System.Text.Json.Nodes;
using Pii.Crypto.Streams;
using Pii.Crypto.Streams.Keyrings;
using static Pii.Crypto.Tests.Streams.StreamTestSupport;

namespace Pii.Crypto.Tests.Streams;

/// <summary>
/// Interop with the official JS ESDK 5.0.2 in both directions, raw AES and raw RSA (and both at once), at the
/// boundary sizes around the frame length F and a few MiB, with empty, ASCII and non-ASCII encryption contexts.
/// </summary>
public sealed class EsdkInteropTests(EsdkFixture esdk) : IClassFixture<EsdkFixture>, IDisposable
{
    private const int F = 1024;
    private static readonly long[] Sizes = [0, 1, F - 1, F, F + 1, 3 * F, 3 * F + 1, 3 * 1024 * 1024 + 17];

    private readonly string workDirectory = System.IO.Directory.CreateTempSubdirectory("pii-stream-interop-").FullName;

    public static IEnumerable<(string Name, Dictionary<string, string> Context)> Contexts =>
    [
        ("empty", []),
        ("ascii", AsciiContext),
        ("non-ascii", NonAsciiContext),
    ];

    private sealed record Case(string Name, byte[] Plaintext, IReadOnlyDictionary<string, string> Context, bool Aes, bool Rsa)
    {
        public string Label => $"{Name} ({(Aes ? "aes" : "")}{(Aes && Rsa ? "+" : "")}{(Rsa ? "rsa" : "")}, {Plaintext.Length} bytes)";
    }

    private static List<Case> Cases()
    {
        var cases = new List<Case>();
        foreach (var (name, context) in Contexts)
        {
            foreach (var size in Sizes)
            {
                var plaintext = Pattern(size);
                cases.Add(new Case(name, plaintext, context, Aes: true, Rsa: false));
                cases.Add(new Case(name, plaintext, context, Aes: false, Rsa: true));
            }
        }
        cases.Add(new Case("multi", Pattern(3 * F + 1), NonAsciiContext, Aes: true, Rsa: true));
        return cases;
    }

    [Fact]
    public async Task Our_messages_decrypt_in_the_js_esdk()
    {
        var cases = Cases();
        var jobs = new List<JsonObject>();
        var expectations = new List<(string Label, byte[] Plaintext, IReadOnlyDictionary<string, string> Context, string Output)>();
        for (var i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            var keyring = EncryptingKeyring(c);
            // Alternate the single-threaded and the parallel writer so both are checked against the peer.
            var message = await EncryptAsync(c.Plaintext, keyring, c.Context, F, parallelism: i % 2 == 0 ? 1 : 3);
            var input = Path.Combine(workDirectory, $"ours-{i}.bin");
            await File.WriteAllBytesAsync(input, message);
            // A message wrapped for both keys must open with each key alone.
            (bool Aes, bool Rsa)[] openers = c.Aes && c.Rsa ? [(true, false), (false, true)] : [(c.Aes, c.Rsa)];
            foreach (var (aes, rsa) in openers)
            {
                var output = Path.Combine(workDirectory, $"ours-{i}-{aes}-{rsa}.out");
                jobs.Add(EsdkFixture.Job("decrypt", input, output, aes, rsa));
                expectations.Add((c.Label, c.Plaintext, c.Context, output));
            }
        }

        var results = esdk.Run(jobs);

        for (var i = 0; i < jobs.Count; i++)
        {
            var (label, plaintext, context, output) = expectations[i];
            Assert.True(results[i]["ok"]!.GetValue<bool>(), $"{label}: {results[i]["error"]}");
            var decrypted = await File.ReadAllBytesAsync(output);
            Assert.True(plaintext.AsSpan().SequenceEqual(decrypted), $"{label}: plaintext differs");
            var jsContext = results[i]["context"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());
            Assert.Equal(context.OrderBy(p => p.Key, StringComparer.Ordinal), jsContext.OrderBy(p => p.Key, StringComparer.Ordinal));
        }
    }

    [Fact]
    public async Task Js_esdk_messages_decrypt_here()
    {
        var cases = Cases();
        var jobs = new List<JsonObject>();
        for (var i = 0; i < cases.Count; i++)
        {
            var input = Path.Combine(workDirectory, $"plain-{i}.bin");
            await File.WriteAllBytesAsync(input, cases[i].Plaintext);
            jobs.Add(EsdkFixture.Job("encrypt", input, Path.Combine(workDirectory, $"theirs-{i}.bin"), cases[i].Aes, cases[i].Rsa, cases[i].Context, F));
        }

        var results = esdk.Run(jobs);

        using var aes = AesKeyring();
        using var rsa = RsaPrivateKeyring();
        for (var i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            Assert.True(results[i]["ok"]!.GetValue<bool>(), $"{c.Label}: {results[i]["error"]}");
            var message = await File.ReadAllBytesAsync(Path.Combine(workDirectory, $"theirs-{i}.bin"));
            IKeyring[] openers = c.Aes && c.Rsa ? [aes, rsa] : [c.Aes ? aes : rsa];
            foreach (var keyring in openers)
            {
                var (sequential, context) = await DecryptAsync(message, keyring);
                Assert.True(c.Plaintext.AsSpan().SequenceEqual(sequential), $"{c.Label}: sequential plaintext differs");
                Assert.Equal(c.Context.OrderBy(p => p.Key, StringComparer.Ordinal), context.OrderBy(p => p.Key, StringComparer.Ordinal));
                var (parallel, _) = await DecryptAsync(message, keyring, parallelism: 3);
                Assert.True(c.Plaintext.AsSpan().SequenceEqual(parallel), $"{c.Label}: parallel plaintext differs");
            }
            using var ranged = await RangeDecryptor.OpenAsync(RangeReaderOver(message), message.Length, c.Aes ? aes : rsa);
            // The JS writer uses the same exact-multiple form (empty final frame) as ours.
            Assert.Equal(StreamLayout.ForPlaintext(ranged.Layout.HeaderLength, F, c.Plaintext.Length), ranged.Layout);
            var start = c.Plaintext.Length / 3;
            var end = Math.Min(c.Plaintext.Length, start + F + 5);
            var range = await ReadRangeAsync(ranged, start, end);
            Assert.True(c.Plaintext.AsSpan(start, end - start).SequenceEqual(range), $"{c.Label}: range differs");
        }
    }

    public void Dispose() => System.IO.Directory.Delete(workDirectory, recursive: true);

    private static IKeyring EncryptingKeyring(Case c) => (c.Aes, c.Rsa) switch
    {
        (true, false) => AesKeyring(),
        (false, true) => RsaPublicKeyring(),
        _ => new MultiKeyring(AesKeyring(), RsaPublicKeyring()),
    };
}
