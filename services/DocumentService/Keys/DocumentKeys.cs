using System.Security.Cryptography;
using System.Text;
using Dapper;
using Npgsql;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;

namespace Pii.DocumentService.Keys;

/// <summary>
/// The service's own keys besides the per-purpose DEKs:
/// <list type="bullet">
/// <item>the tier-3 application key (32 bytes, base64) from configuration <c>DocumentService:ApplicationKey</c> or the
/// file named by <c>DocumentService:ApplicationKeyFile</c>. The key service never sees it, so a key-service operator
/// holding every KEK still cannot read an SSN; an attacker with this key and a database dump cannot either without the
/// KMS-wrapped DEK. Operators keep it in a secret store / mounted file, never in the repository;</item>
/// <item>the index root key: 32 CSPRNG bytes made on first use, stored only wrapped by the KEK <c>documents</c> in
/// <c>documents.service_keys</c>, unwrapped once per process. From it come the blind-index column keys (BlindIndex's
/// own HKDF) and the content HMAC key (HKDF-SHA256, info "PiiAspire/documents/v1/content-hmac").</item>
/// </list>
/// </summary>
internal sealed class DocumentKeys(NpgsqlDataSource database, IKeyEncryptionKey kek, FieldKey applicationKey) : IDisposable
{
    private const string IndexKeyName = "index-root";
    private static readonly byte[] ContentHmacInfo = Encoding.ASCII.GetBytes("PiiAspire/documents/v1/content-hmac");
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IndexKeys? _indexKeys;

    public FieldKey ApplicationKey { get; } = applicationKey;

    /// <summary>Reads the tier-3 application key from configuration; throws when it is missing or not 32 bytes.</summary>
    public static FieldKey LoadApplicationKey(IConfiguration configuration)
    {
        var text = configuration["DocumentService:ApplicationKey"];
        if (string.IsNullOrEmpty(text) && configuration["DocumentService:ApplicationKeyFile"] is { Length: > 0 } file)
        {
            text = File.ReadAllText(file).Trim();
        }
        if (string.IsNullOrEmpty(text))
        {
            throw new InvalidOperationException("The tier-3 application key is not configured: set DocumentService__ApplicationKey or DocumentService__ApplicationKeyFile (32 bytes, base64).");
        }
        var key = Convert.FromBase64String(text);
        try
        {
            return key.Length == 32 ? FieldKey.FromDek(0, key) : throw new InvalidOperationException("The tier-3 application key must be 32 bytes.");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    public async ValueTask<IndexKeys> GetIndexKeysAsync(CancellationToken cancellationToken)
    {
        if (_indexKeys is { } ready) return ready;
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_indexKeys is not null) return _indexKeys;
            var root = await LoadOrCreateRootAsync(cancellationToken);
            try
            {
                _indexKeys = new IndexKeys(root);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(root);
            }
            return _indexKeys;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<byte[]> LoadOrCreateRootAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var stored = await connection.QuerySingleOrDefaultAsync<StoredKey>(new CommandDefinition(
            "SELECT kek_name AS KekName, kek_version AS KekVersion, ciphertext AS Ciphertext FROM documents.service_keys WHERE name = @name",
            new { name = IndexKeyName }, cancellationToken: cancellationToken));
        if (stored is null)
        {
            var generated = await kek.GenerateDataKeyAsync(cancellationToken);
            CryptographicOperations.ZeroMemory(generated.Plaintext);
            // Another instance may have won the race: whichever row is stored is the key.
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO documents.service_keys (name, kek_name, kek_version, ciphertext) VALUES (@name, @KekName, @KekVersion, @Ciphertext) ON CONFLICT (name) DO NOTHING",
                new { name = IndexKeyName, generated.Wrapped.KekName, generated.Wrapped.KekVersion, generated.Wrapped.Ciphertext }, cancellationToken: cancellationToken));
            stored = await connection.QuerySingleAsync<StoredKey>(new CommandDefinition(
                "SELECT kek_name AS KekName, kek_version AS KekVersion, ciphertext AS Ciphertext FROM documents.service_keys WHERE name = @name",
                new { name = IndexKeyName }, cancellationToken: cancellationToken));
        }
        return await kek.UnwrapAsync(new WrappedDek(stored.KekName, stored.KekVersion, stored.Ciphertext), cancellationToken);
    }

    public void Dispose()
    {
        _indexKeys?.Dispose();
        ApplicationKey.Dispose();
        _gate.Dispose();
    }

    private sealed record StoredKey(string KekName, int KekVersion, string Ciphertext);

    /// <summary>Blind indexes per searchable column and the content HMAC key, all derived from the index root key.</summary>
    internal sealed class IndexKeys : IDisposable
    {
        private readonly byte[] _contentHmacKey = GC.AllocateArray<byte>(32, pinned: true);

        public IndexKeys(ReadOnlySpan<byte> root)
        {
            // The MRN is already trimmed and upper-cased; Name folding only lowercases it again, so equality is unchanged.
            // Its own column label: the MRN index key is unrelated to every other column's.
            Mrn = new BlindIndex(root, "patients", "mrn", BlindIndexKind.Name);
            FullName = new BlindIndex(root, "patients", "full_name", BlindIndexKind.Name);
            Ssn = new BlindIndex(root, "patients", "ssn", BlindIndexKind.Ssn);
            // Four digits have 10 000 values: this index narrows a search, it does not hide the last four from a key holder.
            SsnLastFour = new BlindIndex(root, "patients", "ssn_last4", BlindIndexKind.Name);
            DiagnosisCode = new BlindIndex(root, "patient_diagnoses", "code", BlindIndexKind.Name);
            FileName = new BlindIndex(root, "documents", "file_name", BlindIndexKind.Name);
            HKDF.DeriveKey(HashAlgorithmName.SHA256, root, _contentHmacKey, salt: default, ContentHmacInfo);
        }

        public BlindIndex Mrn { get; }
        public BlindIndex FullName { get; }
        public BlindIndex Ssn { get; }
        public BlindIndex SsnLastFour { get; }
        public BlindIndex DiagnosisCode { get; }
        public BlindIndex FileName { get; }

        public IncrementalHash CreateContentHmac() => IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, _contentHmacKey);

        public void Dispose()
        {
            Mrn.Dispose();
            FullName.Dispose();
            Ssn.Dispose();
            SsnLastFour.Dispose();
            DiagnosisCode.Dispose();
            FileName.Dispose();
            CryptographicOperations.ZeroMemory(_contentHmacKey);
        }
    }
}
