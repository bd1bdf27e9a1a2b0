using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Pii.Crypto.BlindIndexing;
namespace Pii.Services.Shared;

/// <summary>
/// The phone and email blind indexes of <c>dnc_preferences</c> (HMAC-SHA256, 16 bytes, E.164 / email normalisation,
/// per-column keys derived by <see cref="BlindIndex"/>).
/// </summary>
/// <remarks>
/// Where the index root key comes from: the key service computes
/// <c>HMAC-SHA256(dnc HMAC key of the pinned version, "PiiAspire/dnc/blind-index/v1")</c>
/// through <c>transit/hmac/dnc/sha2-256</c> once at start-up; the 32-byte result is the root key, held only in memory.
/// Vault gives every key version an HMAC key that is independent of its AES key, so the index key says nothing about
/// DEKs or ciphertexts; it is pinned to one version, so KEK rotation does not change any index. Only tokens allowed to
/// call that HMAC path (dnc-intake, dnc-backoffice, and etl, which only looks up quarantined rows by it) can derive it;
/// nothing is stored on disk. Shared as linked source by FormApi and EtlWorker.
/// </remarks>
internal sealed class DncBlindIndexes : IDisposable
{
    public const string Table = "dnc_preferences";
    private static readonly byte[] RootLabel = Encoding.ASCII.GetBytes("PiiAspire/dnc/blind-index/v1");

    private DncBlindIndexes(ReadOnlySpan<byte> rootKey)
    {
        Phone = new BlindIndex(rootKey, Table, "phone_bidx", BlindIndexKind.Phone);
        Email = new BlindIndex(rootKey, Table, "email_bidx", BlindIndexKind.Email);
    }

    public BlindIndex Phone { get; }

    public BlindIndex Email { get; }

    public static async Task<DncBlindIndexes> FromKeyServiceAsync(HttpClient keyService, string token, int keyVersion, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/transit/hmac/dnc/sha2-256")
        {
            Content = JsonContent.Create(new JsonObject { ["input"] = Convert.ToBase64String(RootLabel), ["key_version"] = keyVersion }),
        };
        request.Headers.Add("X-Vault-Token", token);
        using var response = await keyService.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"The key service refused the blind-index key derivation ({(int)response.StatusCode}); check the token's policy for transit/hmac/dnc/sha2-256.");
        }
        var body = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken).ConfigureAwait(false);
        var text = body?["data"]?["hmac"]?.GetValue<string>() ?? throw new InvalidOperationException("The key service's HMAC answer has no data.hmac.");
        var expectedPrefix = $"vault:v{keyVersion}:";
        if (!text.StartsWith(expectedPrefix, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("The key service answered with another HMAC key version than requested.");
        }
        var rootKey = Convert.FromBase64String(text[expectedPrefix.Length..]);
        try
        {
            return new DncBlindIndexes(rootKey);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(rootKey);
        }
    }

    public void Dispose()
    {
        Phone.Dispose();
        Email.Dispose();
    }
}

/// <summary>Derives <see cref="DncBlindIndexes"/> once, on first use (through <paramref name="derive"/>), and shares it.</summary>
internal sealed class DncBlindIndexProvider(Func<CancellationToken, Task<DncBlindIndexes>> derive) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private DncBlindIndexes? _indexes;

    public async ValueTask<DncBlindIndexes> GetAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _indexes) is { } ready)
        {
            return ready;
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return _indexes ??= await derive(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _indexes?.Dispose();
        _gate.Dispose();
    }
}
