using System.Collections.Immutable;
using System.Diagnostics;
using System.Text;
using Pii.Kms.Http;
using Pii.Kms.Transit;

namespace Pii.Kms.Tests;

/// <summary>
/// The vault:vN: format checked against an independent implementation (python3 `cryptography`: AESGCM, HKDF,
/// HMAC) written from VAULT-TRANSIT.md §5, in both directions, for plain, derived and convergent keys.
/// </summary>
public sealed class TransitCryptoInteropTests(TransitCryptoInteropTests.PythonVault python) : IClassFixture<TransitCryptoInteropTests.PythonVault>
{
    private static readonly byte[] Key = Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    private static readonly byte[] HmacKey = Convert.FromHexString("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");

    private const string Script = """
        import base64, sys, json, hmac, hashlib, os
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        from cryptography.hazmat.primitives import hashes
        def answer(a):
            key = bytes.fromhex(a["key"]); ctx = base64.b64decode(a["context"]) if a.get("context") else None
            def derive(n): return HKDF(algorithm=hashes.SHA256(), length=n, salt=None, info=ctx).derive(key)
            if a["op"] == "decrypt":
                body = base64.b64decode(a["ciphertext"].split(":", 2)[2], validate=True)
                k = derive(32) if ctx else key
                aad = base64.b64decode(a["aad"]) if a.get("aad") else None
                return base64.b64encode(AESGCM(k).decrypt(body[:12], body[12:], aad)).decode()
            if a["op"] == "encrypt":
                pt = base64.b64decode(a["plaintext"])
                if a.get("convergent"):
                    full = derive(64); k = full[:32]; nonce = hmac.new(full[32:], pt, hashlib.sha256).digest()[:12]
                else:
                    k = derive(32) if ctx else key; nonce = os.urandom(12)
                return "vault:v1:" + base64.b64encode(nonce + AESGCM(k).encrypt(nonce, pt, None)).decode()
            return "vault:v1:" + base64.b64encode(hmac.new(bytes.fromhex(a["hmac_key"]), base64.b64decode(a["input"]), hashlib.sha256).digest()).decode()
        for line in sys.stdin:
            try:
                print(json.dumps({"ok": answer(json.loads(line))}), flush=True)
            except Exception as e:
                print(json.dumps({"error": repr(e)}), flush=True)
        """;

    /// <summary>One python3 process for the whole class, answering one JSON request per line.</summary>
    public sealed class PythonVault : IDisposable
    {
        private readonly Process _process = Process.Start(new ProcessStartInfo("python3", ["-c", Script])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
        })!;

        private readonly Lock _lock = new();

        public string Call(object args)
        {
            lock (_lock)
            {
                _process.StandardInput.WriteLine(System.Text.Json.JsonSerializer.Serialize(args));
                _process.StandardInput.Flush();
                var reply = System.Text.Json.Nodes.JsonNode.Parse(_process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("python3 exited"))!;
                return reply["ok"]?.GetValue<string>() ?? throw new InvalidOperationException("python3: " + reply["error"]);
            }
        }

        public void Dispose()
        {
            _process.StandardInput.Close();
            _process.WaitForExit();
            _process.Dispose();
        }
    }

    private static TransitPolicy Policy(bool derived = false, bool convergent = false) => new()
    {
        Name = "interop",
        Derived = derived,
        Kdf = derived ? TransitPolicy.HkdfSha256 : null,
        ConvergentEncryption = convergent,
        ConvergentVersionOfPolicy = convergent ? -1 : 0,
        LatestVersion = 1,
        MinDecryptionVersion = 1,
        Versions = ImmutableSortedDictionary<int, KeyVersion>.Empty.Add(1, new KeyVersion(1, Key, HmacKey, 0, convergent ? 3 : 0)),
    };

    private string Python(object args) => python.Call(args);

    [Theory]
    [InlineData("")]
    [InlineData("hello vault")]
    [InlineData("a longer message that spans more than one AES block of sixteen bytes")]
    public void Our_ciphertext_decrypts_in_python_and_python_ciphertext_decrypts_here(string message)
    {
        var plaintext = Encoding.UTF8.GetBytes(message);
        var (ours, version) = TransitCrypto.Encrypt(Policy(), 0, plaintext, null, null, null);
        Assert.Equal(1, version);
        Assert.Equal(Convert.ToBase64String(plaintext), Python(new { op = "decrypt", key = Convert.ToHexString(Key), ciphertext = ours }));

        var theirs = Python(new { op = "encrypt", key = Convert.ToHexString(Key), plaintext = Convert.ToBase64String(plaintext) });
        Assert.Equal(plaintext, TransitCrypto.Decrypt(Policy(), theirs, null, null).Plaintext);
    }

    [Fact]
    public void Derived_keys_use_hkdf_sha256_with_empty_salt_and_context_as_info()
    {
        var context = Encoding.UTF8.GetBytes("patient-42");
        var (ours, _) = TransitCrypto.Encrypt(Policy(derived: true), 0, "derived"u8, context, null, null);
        Assert.Equal(Convert.ToBase64String("derived"u8), Python(new { op = "decrypt", key = Convert.ToHexString(Key), ciphertext = ours, context = Convert.ToBase64String(context) }));
        var theirs = Python(new { op = "encrypt", key = Convert.ToHexString(Key), plaintext = Convert.ToBase64String("x"u8), context = Convert.ToBase64String(context) });
        Assert.Equal("x"u8.ToArray(), TransitCrypto.Decrypt(Policy(derived: true), theirs, context, null).Plaintext);
    }

    [Fact]
    public void Convergent_v3_ciphertext_is_byte_identical_to_the_independent_implementation()
    {
        var context = Encoding.UTF8.GetBytes("ctx");
        var (ours, _) = TransitCrypto.Encrypt(Policy(derived: true, convergent: true), 0, "same input"u8, context, null, null);
        var theirs = Python(new { op = "encrypt", key = Convert.ToHexString(Key), plaintext = Convert.ToBase64String("same input"u8), context = Convert.ToBase64String(context), convergent = true });
        Assert.Equal(theirs, ours);
    }

    [Fact]
    public void Hmac_is_hmac_sha256_under_the_version_hmac_key()
    {
        var ours = TransitCrypto.Hmac(Policy(), 0, "sha2-256", "input"u8);
        Assert.Equal(Python(new { op = "hmac", key = Convert.ToHexString(Key), hmac_key = Convert.ToHexString(HmacKey), input = Convert.ToBase64String("input"u8) }), ours);
    }

    [Fact]
    public void Associated_data_is_authenticated_as_gcm_aad()
    {
        var (ours, _) = TransitCrypto.Encrypt(Policy(), 0, "bound"u8, null, null, "aad"u8.ToArray());
        Assert.Equal(Convert.ToBase64String("bound"u8), Python(new { op = "decrypt", key = Convert.ToHexString(Key), ciphertext = ours, aad = Convert.ToBase64String("aad"u8) }));
        var error = Assert.Throws<VaultException>(() => TransitCrypto.Decrypt(Policy(), ours, null, null));
        Assert.Equal(TransitCrypto.AuthenticationFailed, error.Message);
    }

    [Theory]
    [InlineData("aGk")]
    [InlineData("aGk= ")]
    [InlineData("a-_=")]
    [InlineData("aG=k")]
    [InlineData("aGk===")]
    public void Base64_is_strict_standard_padded(string text) => Assert.Throws<FormatException>(() => VaultBase64.Decode(text));
}
