using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Pii.Crypto.Transit;

/// <summary>A ciphertext as Vault returns it, with the key version that made it.</summary>
public sealed record TransitCiphertext(string Ciphertext, int KeyVersion);

/// <summary>A data key from <c>datakey/plaintext</c> (Plaintext set) or <c>datakey/wrapped</c> (Plaintext null).</summary>
public sealed record TransitDataKey(byte[]? Plaintext, string Ciphertext, int KeyVersion);

/// <summary>One item of a batch call: either <see cref="Value"/> or <see cref="Error"/> (typed like single calls).</summary>
public sealed record TransitBatchResult<T>(T? Value, Exception? Error, string Reference);

/// <summary>One item to encrypt in a batch.</summary>
public sealed record TransitEncryptItem(ReadOnlyMemory<byte> Plaintext, byte[]? Context = null, string? Reference = null);

/// <summary>The subset of read-key data clients need.</summary>
public sealed record TransitKeyInfo(string Name, string Type, int LatestVersion, int MinDecryptionVersion, int MinEncryptionVersion, bool Derived);

/// <summary>
/// Vault Transit client over HttpClient, compatible with our key service, HashiCorp Vault and OpenBao.
/// Keeps to VAULT-TRANSIT.md: token in <c>X-Vault-Token</c>, configurable mount, tolerant of version drift
/// (200 or 204 on key writes, <c>key_version</c> present or not, batch 400 envelopes with per-item errors).
/// Transient failures (connection errors, attempt timeouts, 412/429/502/503/504) are retried with jittered
/// exponential backoff for idempotent calls only; rotation is never retried. Error bodies become typed exceptions.
/// </summary>
public sealed class TransitClient
{
    private readonly HttpClient _http;
    private readonly TransitClientOptions _options;
    private readonly string? _token;
    private readonly ResiliencePipeline<HttpResponseMessage> _retrying;
    private readonly ResiliencePipeline<HttpResponseMessage> _once;

    public TransitClient(HttpClient http, TransitClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(options);
        _http = http;
        _options = options;
        _token = options.ResolveToken();
        _retrying = new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<TimeoutRejectedException>()
                    .HandleResult(r => IsTransient(r.StatusCode)),
                MaxRetryAttempts = Math.Max(1, options.MaxRetries),
                Delay = options.RetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    args.Outcome.Result?.Dispose();
                    return default;
                },
            })
            .AddTimeout(options.AttemptTimeout)
            .Build();
        _once = new ResiliencePipelineBuilder<HttpResponseMessage>().AddTimeout(options.AttemptTimeout).Build();
        if (options.MaxRetries <= 0)
        {
            _retrying = _once;
        }
    }

    public string MountPath => _options.MountPath;

    public async Task<TransitCiphertext> EncryptAsync(string key, ReadOnlyMemory<byte> plaintext, byte[]? context = null, int keyVersion = 0, byte[]? associatedData = null, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["plaintext"] = Convert.ToBase64String(plaintext.Span) };
        AddOptional(body, context, associatedData, keyVersion);
        var data = await DataAsync(HttpMethod.Post, $"encrypt/{Escape(key)}", body, retry: true, cancellationToken).ConfigureAwait(false);
        return Ciphertext(data!);
    }

    public async Task<byte[]> DecryptAsync(string key, string ciphertext, byte[]? context = null, byte[]? associatedData = null, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["ciphertext"] = ciphertext };
        AddOptional(body, context, associatedData, 0);
        var data = await DataAsync(HttpMethod.Post, $"decrypt/{Escape(key)}", body, retry: true, cancellationToken).ConfigureAwait(false);
        return Convert.FromBase64String(data!["plaintext"]?.GetValue<string>() ?? "");
    }

    /// <summary>Re-encrypts under the latest (or given) version inside the key service; the plaintext never travels.</summary>
    public async Task<TransitCiphertext> RewrapAsync(string key, string ciphertext, byte[]? context = null, int keyVersion = 0, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["ciphertext"] = ciphertext };
        AddOptional(body, context, null, keyVersion);
        var data = await DataAsync(HttpMethod.Post, $"rewrap/{Escape(key)}", body, retry: true, cancellationToken).ConfigureAwait(false);
        return Ciphertext(data!);
    }

    public async Task<IReadOnlyList<TransitBatchResult<TransitCiphertext>>> EncryptBatchAsync(string key, IReadOnlyList<TransitEncryptItem> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        var batch = new JsonArray();
        foreach (var item in items)
        {
            var entry = new JsonObject { ["plaintext"] = Convert.ToBase64String(item.Plaintext.Span) };
            if (item.Context is not null)
            {
                entry["context"] = Convert.ToBase64String(item.Context);
            }

            if (item.Reference is not null)
            {
                entry["reference"] = item.Reference;
            }

            batch.Add(entry);
        }

        var data = await DataAsync(HttpMethod.Post, $"encrypt/{Escape(key)}", new JsonObject { ["batch_input"] = batch }, retry: true, cancellationToken, batch: true).ConfigureAwait(false);
        return BatchResults(data!, r => Ciphertext(r));
    }

    public async Task<IReadOnlyList<TransitBatchResult<byte[]>>> DecryptBatchAsync(string key, IReadOnlyList<string> ciphertexts, IReadOnlyList<byte[]>? contexts = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ciphertexts);
        var batch = new JsonArray();
        for (var i = 0; i < ciphertexts.Count; i++)
        {
            var entry = new JsonObject { ["ciphertext"] = ciphertexts[i], ["reference"] = i.ToString(CultureInfo.InvariantCulture) };
            if (contexts is not null)
            {
                entry["context"] = Convert.ToBase64String(contexts[i]);
            }

            batch.Add(entry);
        }

        var data = await DataAsync(HttpMethod.Post, $"decrypt/{Escape(key)}", new JsonObject { ["batch_input"] = batch }, retry: true, cancellationToken, batch: true).ConfigureAwait(false);
        return BatchResults(data!, r => Convert.FromBase64String(r["plaintext"]?.GetValue<string>() ?? ""));
    }

    public async Task<IReadOnlyList<TransitBatchResult<TransitCiphertext>>> RewrapBatchAsync(string key, IReadOnlyList<string> ciphertexts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ciphertexts);
        var batch = new JsonArray([.. ciphertexts.Select(c => (JsonNode)new JsonObject { ["ciphertext"] = c })]);
        var data = await DataAsync(HttpMethod.Post, $"rewrap/{Escape(key)}", new JsonObject { ["batch_input"] = batch }, retry: true, cancellationToken, batch: true).ConfigureAwait(false);
        return BatchResults(data!, r => Ciphertext(r));
    }

    /// <summary><c>datakey/plaintext</c> when <paramref name="withPlaintext"/>, else <c>datakey/wrapped</c> (no plaintext leaves Vault).</summary>
    public async Task<TransitDataKey> GenerateDataKeyAsync(string key, bool withPlaintext, int bits = 256, byte[]? context = null, CancellationToken cancellationToken = default)
    {
        var body = new JsonObject { ["bits"] = bits };
        AddOptional(body, context, null, 0);
        var data = await DataAsync(HttpMethod.Post, $"datakey/{(withPlaintext ? "plaintext" : "wrapped")}/{Escape(key)}", body, retry: true, cancellationToken).ConfigureAwait(false);
        var ciphertext = Ciphertext(data!);
        var plaintext = withPlaintext ? Convert.FromBase64String(data!["plaintext"]!.GetValue<string>()) : null;
        return new TransitDataKey(plaintext, ciphertext.Ciphertext, ciphertext.KeyVersion);
    }

    public async Task<string> HmacAsync(string key, ReadOnlyMemory<byte> input, string algorithm = "sha2-256", CancellationToken cancellationToken = default)
    {
        var data = await DataAsync(HttpMethod.Post, $"hmac/{Escape(key)}/{Escape(algorithm)}", new JsonObject { ["input"] = Convert.ToBase64String(input.Span) }, retry: true, cancellationToken).ConfigureAwait(false);
        return data!["hmac"]!.GetValue<string>();
    }

    /// <summary>Creates the key if missing (Vault leaves an existing key unchanged).</summary>
    public Task CreateKeyAsync(string key, bool derived = false, bool convergent = false, CancellationToken cancellationToken = default) =>
        DataAsync(HttpMethod.Post, $"keys/{Escape(key)}", new JsonObject { ["type"] = "aes256-gcm96", ["derived"] = derived, ["convergent_encryption"] = convergent }, retry: true, cancellationToken);

    public async Task<TransitKeyInfo> ReadKeyAsync(string key, CancellationToken cancellationToken = default)
    {
        var d = await DataAsync(HttpMethod.Get, $"keys/{Escape(key)}", null, retry: true, cancellationToken).ConfigureAwait(false)
            ?? throw new TransitNotFoundException(404, []);
        return new TransitKeyInfo(
            d["name"]!.GetValue<string>(), d["type"]!.GetValue<string>(), d["latest_version"]!.GetValue<int>(),
            d["min_decryption_version"]!.GetValue<int>(), d["min_encryption_version"]!.GetValue<int>(), d["derived"]!.GetValue<bool>());
    }

    /// <summary>Adds a key version. Not retried: a lost response must not rotate twice.</summary>
    public Task RotateKeyAsync(string key, CancellationToken cancellationToken = default) =>
        DataAsync(HttpMethod.Post, $"keys/{Escape(key)}/rotate", [], retry: false, cancellationToken);

    /// <summary>
    /// <c>GET transit/backup/:name</c>: every version of the key in plaintext (Vault's base64 backup blob), for a key
    /// configured <c>exportable</c> and <c>allow_plaintext_backup</c>. Seal it before it leaves the process.
    /// </summary>
    public async Task<string> BackupKeyAsync(string key, CancellationToken cancellationToken = default)
    {
        var data = await DataAsync(HttpMethod.Get, $"backup/{Escape(key)}", null, retry: true, cancellationToken).ConfigureAwait(false);
        return data?["backup"]?.GetValue<string>() is { Length: > 0 } backup ? backup : throw MapError(502, ["the backup response holds no backup"]);
    }

    /// <summary>
    /// <c>POST transit/restore[/:name]</c>: brings a backup back under its own name or <paramref name="name"/>; an
    /// existing key is replaced only with <paramref name="force"/>. Not retried: a lost answer is checked by reading the key.
    /// </summary>
    public Task RestoreKeyAsync(string backup, string? name = null, bool force = false, CancellationToken cancellationToken = default) =>
        DataAsync(HttpMethod.Post, name is null ? "restore" : $"restore/{Escape(name)}", new JsonObject { ["backup"] = backup, ["force"] = force },
            retry: false, cancellationToken);

    /// <summary>Maps a Vault error (status + error strings) to the typed exception callers catch.</summary>
    public static Exception MapError(int statusCode, IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var text = string.Join("; ", errors);
        bool Has(string s) => text.Contains(s, StringComparison.OrdinalIgnoreCase);
        return statusCode switch
        {
            403 => new TransitForbiddenException(statusCode, errors),
            404 => new TransitNotFoundException(statusCode, errors),
            >= 500 => new TransitServerException(statusCode, errors),
            _ when Has("message authentication failed") => new TamperedException("The key service could not authenticate the ciphertext (tampered, wrong key, context or associated data)."),
            _ when Has("too old") || Has("version is too new") || Has("no such key version") => new UnknownKeyException("The ciphertext's key version is not available: " + text),
            _ when Has("key not found") || Has("not found") => new TransitNotFoundException(statusCode, errors),
            _ when Has("invalid ciphertext") || Has("illegal base64") || Has("could not decode base64") => new MalformedInputException("The key service rejected the ciphertext as malformed: " + text),
            _ => new TransitRequestException(statusCode, errors),
        };
    }

    /// <summary>Reads the version from <c>vault:vN:</c> (used when an older Vault omits <c>key_version</c>).</summary>
    public static int VersionOf(string ciphertext)
    {
        ArgumentNullException.ThrowIfNull(ciphertext);
        const string prefix = "vault:v";
        var end = ciphertext.IndexOf(':', prefix.Length);
        if (!ciphertext.StartsWith(prefix, StringComparison.Ordinal) || end < 0 ||
            !int.TryParse(ciphertext.AsSpan(prefix.Length, end - prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            throw new MalformedInputException("Not a vault:vN: ciphertext.");
        }

        return version;
    }

    private static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.PreconditionFailed or HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;

    private static TransitCiphertext Ciphertext(JsonNode data)
    {
        var ciphertext = data["ciphertext"]!.GetValue<string>();
        var version = data["key_version"] is JsonValue v ? v.GetValue<int>() : VersionOf(ciphertext);
        return new TransitCiphertext(ciphertext, version);
    }

    private static List<TransitBatchResult<T>> BatchResults<T>(JsonNode data, Func<JsonNode, T> read)
    {
        var results = new List<TransitBatchResult<T>>();
        foreach (var item in data["batch_results"]!.AsArray())
        {
            var reference = item!["reference"]?.GetValue<string>() ?? "";
            var error = item["error"]?.GetValue<string>();
            results.Add(string.IsNullOrEmpty(error)
                ? new TransitBatchResult<T>(read(item), null, reference)
                : new TransitBatchResult<T>(default, MapError(400, [error]), reference));
        }

        return results;
    }

    private static void AddOptional(JsonObject body, byte[]? context, byte[]? associatedData, int keyVersion)
    {
        if (context is not null)
        {
            body["context"] = Convert.ToBase64String(context);
        }

        if (associatedData is not null)
        {
            body["associated_data"] = Convert.ToBase64String(associatedData);
        }

        if (keyVersion != 0)
        {
            body["key_version"] = keyVersion;
        }
    }

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    /// <summary>Sends one call; returns <c>data</c> (null for 204 or no data) or throws the mapped exception.</summary>
    private async Task<JsonNode?> DataAsync(HttpMethod method, string relativePath, JsonObject? body, bool retry, CancellationToken cancellationToken, bool batch = false)
    {
        var uri = new Uri(_options.Address, $"v1/{_options.MountPath.Trim('/')}/{relativePath}");
        var payload = body is null ? null : Encoding.UTF8.GetBytes(body.ToJsonString());
        var pipeline = retry ? _retrying : _once;
        using var response = await pipeline.ExecuteAsync(async ct =>
        {
            using var request = new HttpRequestMessage(method, uri);
            if (_token is not null)
            {
                request.Headers.Add("X-Vault-Token", _token);
            }

            if (payload is not null)
            {
                request.Content = new ByteArrayContent(payload);
                request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            }

            return await _http.SendAsync(request, ct).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);

        var status = (int)response.StatusCode;
        var text = response.Content is null ? "" : await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        JsonNode? json = null;
        if (text.Length > 0)
        {
            try
            {
                json = JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                throw MapError(status < 400 ? 502 : status, ["response is not JSON"]);
            }
        }

        if (status is >= 200 and < 300)
        {
            return json?["data"];
        }

        // Batch calls answer 400 (or a chosen partial-failure code) with the normal envelope and per-item errors.
        if (batch && json?["data"]?["batch_results"] is JsonArray)
        {
            return json["data"];
        }

        var errors = json?["errors"] is JsonArray list ? list.Select(e => e?.GetValue<string>() ?? "").ToList() : [];
        throw MapError(status, errors);
    }
}
