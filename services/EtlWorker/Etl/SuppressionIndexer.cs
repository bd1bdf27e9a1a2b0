using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pii.Crypto;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Transit;

namespace Pii.EtlWorker.Etl;

/// <summary>Which contact channel a suppression index is for.</summary>
public enum ContactKind
{
    Phone,
    Email,
}

/// <summary>
/// Blind indexes of the suppression list, computed by the key service: HMAC-SHA256 (<c>transit/hmac/&lt;key&gt;/sha2-256</c>,
/// <c>batch_input</c>) under the HMAC key of one pinned version of a dedicated transit key. The key never leaves the key
/// service, so neither this process nor anyone reading PostgreSQL can test a guessed phone number offline.
/// </summary>
/// <remarks>
/// Input (UTF-8): <c>"phone:" ‖ E.164</c> or <c>"email:" ‖ trimmed lower-case address</c> — the prefix separates the
/// two domains. Output stored: the 32 raw HMAC bytes (Vault's <c>vault:vN:</c> text decoded). The version is pinned
/// in PostgreSQL at first start (see <see cref="SuppressionStore.EnsureIndexKeyVersionAsync"/>); rotating the transit key
/// does not change the indexes until an operator rebuilds the list under a new pin.
/// </remarks>
public sealed class SuppressionIndexer(HttpClient http, TransitClientOptions transit, string keyName)
{
    public const int IndexSize = 32;
    private const int MaxItemsPerCall = 1000;
    private const int ConcurrentCalls = 4;
    private static readonly byte[] ProbeInput = Encoding.ASCII.GetBytes("PiiAspire/suppression/version-probe");
    private readonly string? _token = transit.ResolveToken();

    /// <summary>Normalizes a value the way indexes are made; throws <see cref="MalformedInputException"/> when it cannot.</summary>
    public static string Normalize(ContactKind kind, string value) => kind switch
    {
        ContactKind.Phone => Normalizer.Phone(value),
        ContactKind.Email => EmailSyntax.Normalize(value),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>The key's latest version, read from the prefix of one HMAC (the ETL token may HMAC, not read key metadata).</summary>
    public async Task<int> LatestVersionAsync(CancellationToken cancellationToken)
    {
        var body = new JsonObject { ["input"] = Convert.ToBase64String(ProbeInput) };
        var data = await SendAsync(body, cancellationToken).ConfigureAwait(false);
        return TransitClient.VersionOf(data["hmac"]!.GetValue<string>());
    }

    /// <summary>Indexes of already normalized values, in order: calls of up to 1,000 items, up to 4 at a time.</summary>
    public async Task<IReadOnlyList<byte[]>> ComputeAsync(IReadOnlyList<(ContactKind Kind, string Normalized)> values, int keyVersion, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(values);
        var indexes = new byte[values.Count][];
        var chunks = Enumerable.Range(0, (values.Count + MaxItemsPerCall - 1) / MaxItemsPerCall);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = ConcurrentCalls, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(chunks, parallel, async (chunk, ct) =>
        {
            var start = chunk * MaxItemsPerCall;
            var count = Math.Min(MaxItemsPerCall, values.Count - start);
            var batch = new JsonArray();
            for (var i = start; i < start + count; i++)
            {
                batch.Add(new JsonObject { ["input"] = Convert.ToBase64String(Input(values[i].Kind, values[i].Normalized)) });
            }

            var data = await SendAsync(new JsonObject { ["key_version"] = keyVersion, ["batch_input"] = batch }, ct).ConfigureAwait(false);
            var results = data["batch_results"]?.AsArray() ?? throw new MalformedInputException("The key service's HMAC answer has no batch_results.");
            if (results.Count != count)
            {
                throw new MalformedInputException("The key service returned a different number of HMACs than it was sent.");
            }

            for (var i = 0; i < count; i++)
            {
                if (results[i]?["error"]?.GetValue<string>() is { Length: > 0 } error)
                {
                    throw TransitClient.MapError(400, [error]);
                }

                indexes[start + i] = Decode(results[i]!["hmac"]!.GetValue<string>(), keyVersion);
            }
        }).ConfigureAwait(false);
        return indexes;
    }

    public async Task<byte[]> ComputeOneAsync(ContactKind kind, string normalized, int keyVersion, CancellationToken cancellationToken) =>
        (await ComputeAsync([(kind, normalized)], keyVersion, cancellationToken).ConfigureAwait(false))[0];

    private static byte[] Input(ContactKind kind, string normalized) =>
        Encoding.UTF8.GetBytes((kind == ContactKind.Phone ? "phone:" : "email:") + normalized);

    private static byte[] Decode(string hmac, int expectedVersion)
    {
        if (TransitClient.VersionOf(hmac) != expectedVersion)
        {
            throw new MalformedInputException("The key service answered with another HMAC key version than requested.");
        }

        var digest = Convert.FromBase64String(hmac[(hmac.IndexOf(':', "vault:v".Length) + 1)..]);
        return digest.Length == IndexSize ? digest : throw new MalformedInputException("The key service's HMAC is not 32 bytes.");
    }

    private async Task<JsonNode> SendAsync(JsonObject body, CancellationToken cancellationToken)
    {
        var uri = new Uri(transit.Address, $"v1/{transit.MountPath.Trim('/')}/hmac/{Uri.EscapeDataString(keyName)}/sha2-256");
        using var request = new HttpRequestMessage(HttpMethod.Post, uri);
        if (_token is not null)
        {
            request.Headers.Add("X-Vault-Token", _token);
        }

        request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        JsonNode? json;
        try
        {
            json = text.Length == 0 ? null : JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            throw TransitClient.MapError(502, ["response is not JSON"]);
        }

        if (!response.IsSuccessStatusCode || json?["data"] is not JsonNode data)
        {
            var errors = json?["errors"] is JsonArray list ? list.Select(e => e?.GetValue<string>() ?? "").ToList() : [((int)response.StatusCode).ToString(CultureInfo.InvariantCulture)];
            throw TransitClient.MapError((int)response.StatusCode, errors);
        }

        return data;
    }
}
