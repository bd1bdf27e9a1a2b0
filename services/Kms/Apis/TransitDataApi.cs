using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Pii.Kms.Hosting;
using Pii.Kms.Http;
using Pii.Kms.Transit;

namespace Pii.Kms.Apis;

/// <summary>
/// Data operations: encrypt, decrypt, rewrap (single and <c>batch_input</c>), datakey, hmac.
/// Batch status rules (Vault ≥ 1.12): any item with a user error → 400 with the normal envelope and
/// <c>data.batch_results</c>; <c>partial_failure_response_code</c> replaces it when at least one item succeeded.
/// Rewrap and hmac batches answer 200 with per-item errors.
/// </summary>
public static class TransitDataApi
{
    private static readonly string[] Write = ["POST", "PUT"];

    public static IEndpointRouteBuilder MapTransitDataApi(this IEndpointRouteBuilder app)
    {
        var transit = app.MapVaultGroup("/v1/transit");
        transit.MapMethods("/encrypt/{name}", Write, Encrypt);
        transit.MapMethods("/decrypt/{name}", Write, Decrypt);
        transit.MapMethods("/rewrap/{name}", Write, Rewrap);
        transit.MapMethods("/datakey/{type}/{name}", Write, DataKey);
        transit.MapMethods("/hmac/{name}", Write, (string name, HttpContext c, KmsRuntime r) => Hmac(name, null, c, r));
        transit.MapMethods("/hmac/{name}/{algorithm}", Write, Hmac);
        transit.MapMethods("/verify/{name}", Write, (string name, HttpContext c, KmsRuntime r) => Verify(name, null, c, r));
        transit.MapMethods("/verify/{name}/{algorithm}", Write, Verify);
        return app;
    }

    public static VaultResult Encrypt(string name, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var f = new RequestFields(request, "plaintext", "context", "key_version", "nonce", "associated_data", "type", "convergent_encryption", "batch_input", "partial_failure_response_code", "key_derivation_version");
        var batch = BatchItems(f, "plaintext");
        if (batch is null && !f.Has("plaintext"))
        {
            throw VaultException.BadRequest("missing plaintext to encrypt");
        }

        var policy = runtime.Keys.Find(name);
        if (policy is null)
        {
            if (request.Operation != "create" || runtime.Keys.DisableUpsert)
            {
                throw VaultException.BadRequest("encryption key not found");
            }

            var derived = batch is null ? f.Has("context") && f.GetString("context") is { Length: > 0 } : batch.Count > 0 && batch[0].Has("context");
            (policy, _) = runtime.Keys.GetOrCreate(name, new KeyCreation(f.GetString("type") ?? TransitPolicy.Aes256Gcm96, derived, f.GetBool("convergent_encryption") ?? false));
        }

        if (batch is null)
        {
            var (ciphertext, version) = EncryptOne(policy, f.GetString("plaintext")!, f.GetBase64("context"), f.GetBase64("nonce"), f.GetBase64("associated_data"), f.GetInt("key_version"));
            return VaultResult.Data(request, new JsonObject { ["ciphertext"] = ciphertext, ["key_version"] = version });
        }

        RequireConsistentContext(batch);
        var results = new JsonArray();
        var failures = 0;
        foreach (var item in batch)
        {
            var plaintext = item.StrictString("plaintext")!;
            var reference = item.StrictString("reference") ?? "";
            var keyVersion = item.StrictInt("key_version");
            try
            {
                var (ciphertext, version) = EncryptOne(policy, plaintext, Decode(item.StrictString("context"), "context"), Decode(item.StrictString("nonce"), "nonce"), Decode(item.StrictString("associated_data"), "associated_data"), keyVersion);
                results.Add(new JsonObject { ["ciphertext"] = ciphertext, ["key_version"] = version, ["reference"] = reference });
            }
            catch (VaultException e) when (e.StatusCode == 400)
            {
                failures++;
                results.Add(new JsonObject { ["error"] = e.Message, ["reference"] = reference });
            }
        }

        return BatchResponse(request, f, results, failures, batch.Count, allowOverride: true);
    }

    public static VaultResult Decrypt(string name, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var f = new RequestFields(request, "ciphertext", "context", "nonce", "associated_data", "batch_input", "partial_failure_response_code");
        var batch = BatchItems(f, "ciphertext");
        if (batch is null && !f.Has("ciphertext"))
        {
            throw VaultException.BadRequest("missing ciphertext to decrypt");
        }

        var policy = runtime.Keys.Find(name) ?? throw VaultException.BadRequest("encryption key not found");
        if (batch is null)
        {
            var plaintext = DecryptOne(policy, f.GetString("ciphertext")!, f.GetBase64("context"), f.GetBase64("associated_data"));
            return VaultResult.Data(request, new JsonObject { ["plaintext"] = plaintext });
        }

        RequireConsistentContext(batch);
        var results = new JsonArray();
        var failures = 0;
        foreach (var item in batch)
        {
            var ciphertext = item.StrictString("ciphertext")!;
            var reference = item.StrictString("reference") ?? "";
            try
            {
                var plaintext = DecryptOne(policy, ciphertext, Decode(item.StrictString("context"), "context"), Decode(item.StrictString("associated_data"), "associated_data"));
                results.Add(new JsonObject { ["plaintext"] = plaintext, ["reference"] = reference });
            }
            catch (VaultException e) when (e.StatusCode == 400)
            {
                failures++;
                results.Add(new JsonObject { ["plaintext"] = "", ["error"] = e.Message, ["reference"] = reference });
            }
        }

        return BatchResponse(request, f, results, failures, batch.Count, allowOverride: true);
    }

    public static VaultResult Rewrap(string name, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var f = new RequestFields(request, "ciphertext", "context", "nonce", "key_version", "batch_input");
        var batch = BatchItems(f, "ciphertext");
        if (batch is null && !f.Has("ciphertext"))
        {
            throw VaultException.BadRequest("missing ciphertext to decrypt");
        }

        var policy = runtime.Keys.Find(name) ?? throw VaultException.BadRequest("encryption key not found");
        if (batch is null)
        {
            var (ciphertext, version) = RewrapOne(policy, f.GetString("ciphertext")!, f.GetBase64("context"), f.GetInt("key_version"));
            return VaultResult.Data(request, new JsonObject { ["ciphertext"] = ciphertext, ["key_version"] = version });
        }

        RequireConsistentContext(batch);
        var results = new JsonArray();
        foreach (var item in batch)
        {
            var ciphertextIn = item.StrictString("ciphertext")!;
            var reference = item.StrictString("reference") ?? "";
            var keyVersion = item.StrictInt("key_version");
            try
            {
                var (ciphertext, version) = RewrapOne(policy, ciphertextIn, Decode(item.StrictString("context"), "context"), keyVersion);
                results.Add(new JsonObject { ["ciphertext"] = ciphertext, ["key_version"] = version, ["reference"] = reference });
            }
            catch (VaultException e) when (e.StatusCode == 400)
            {
                results.Add(new JsonObject { ["error"] = e.Message, ["reference"] = reference });
            }
        }

        return VaultResult.Data(request, new JsonObject { ["batch_results"] = results });
    }

    public static VaultResult DataKey(string type, string name, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var f = new RequestFields(request, "bits", "context", "nonce", "key_version", "associated_data");
        if (type is not ("plaintext" or "wrapped"))
        {
            throw VaultException.BadRequest("Invalid path, must be 'plaintext' or 'wrapped'");
        }

        var bits = f.GetInt("bits", 256);
        if (bits is not (128 or 256 or 512))
        {
            throw VaultException.BadRequest("invalid bit length");
        }

        var policy = runtime.Keys.Find(name) ?? throw VaultException.BadRequest("encryption key not found");
        var dek = RandomNumberGenerator.GetBytes(bits / 8);
        try
        {
            var (ciphertext, version) = TransitCrypto.Encrypt(policy, f.GetInt("key_version"), dek, f.GetBase64("context"), f.GetBase64("nonce"), f.GetBase64("associated_data"));
            var data = new JsonObject { ["ciphertext"] = ciphertext, ["key_version"] = version };
            if (type == "plaintext")
            {
                data["plaintext"] = Convert.ToBase64String(dek);
            }

            return VaultResult.Data(request, data);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dek);
        }
    }

    public static VaultResult Hmac(string name, string? algorithm, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var f = new RequestFields(request, "input", "algorithm", "key_version", "batch_input");
        var algo = algorithm ?? f.GetString("algorithm") ?? "sha2-256";
        var batch = BatchItems(f, null);
        if (batch is null && !f.Has("input"))
        {
            throw VaultException.BadRequest("missing input for HMAC");
        }

        var policy = runtime.Keys.Find(name) ?? throw VaultException.BadRequest("encryption key not found");
        var keyVersion = f.GetInt("key_version");
        if (batch is null)
        {
            return VaultResult.Data(request, new JsonObject { ["hmac"] = TransitCrypto.Hmac(policy, keyVersion, algo, f.GetBase64("input")!) });
        }

        var results = new JsonArray();
        foreach (var item in batch)
        {
            var reference = item.StrictString("reference") ?? "";
            try
            {
                var input = item.StrictString("input") ?? throw VaultException.BadRequest("missing input for HMAC");
                var bytes = Decode(input, "input")!;
                results.Add(new JsonObject { ["hmac"] = TransitCrypto.Hmac(policy, keyVersion, algo, bytes), ["reference"] = reference });
            }
            catch (VaultException e) when (e.StatusCode == 400)
            {
                results.Add(new JsonObject { ["error"] = e.Message, ["reference"] = reference });
            }
        }

        return VaultResult.Data(request, new JsonObject { ["batch_results"] = results });
    }

    /// <summary>HMAC verification (<c>input</c> + <c>hmac</c>): a mismatch is 200 with <c>valid: false</c>, not an error.</summary>
    public static VaultResult Verify(string name, string? algorithm, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var f = new RequestFields(request, "input", "hmac", "signature", "hash_algorithm", "algorithm", "batch_input", "context");
        var algo = algorithm ?? f.GetString("hash_algorithm") ?? f.GetString("algorithm") ?? "sha2-256";
        var policy = runtime.Keys.Find(name) ?? throw VaultException.BadRequest("encryption key not found");
        var batch = BatchItems(f, null);
        if (batch is null)
        {
            if (f.Has("signature"))
            {
                throw VaultException.BadRequest("message verification not supported for key type aes256-gcm96");
            }

            var hmac = f.GetString("hmac") ?? throw VaultException.BadRequest("missing hmac value to verify");
            var input = f.GetBase64("input") ?? throw VaultException.BadRequest("missing input to verify");
            return VaultResult.Data(request, new JsonObject { ["valid"] = VerifyHmac(policy, algo, input, hmac) });
        }

        var results = new JsonArray();
        foreach (var item in batch)
        {
            var reference = item.StrictString("reference") ?? "";
            try
            {
                var hmac = item.StrictString("hmac") ?? throw VaultException.BadRequest("missing hmac value to verify");
                var input = Decode(item.StrictString("input") ?? throw VaultException.BadRequest("missing input to verify"), "input")!;
                var result = new JsonObject { ["reference"] = reference };
                if (VerifyHmac(policy, algo, input, hmac))
                {
                    result["valid"] = true;
                }

                results.Add(result);
            }
            catch (VaultException e) when (e.StatusCode == 400)
            {
                results.Add(new JsonObject { ["error"] = e.Message, ["reference"] = reference });
            }
        }

        return VaultResult.Data(request, new JsonObject { ["batch_results"] = results });
    }

    private static bool VerifyHmac(TransitPolicy policy, string algorithm, byte[] input, string hmac)
    {
        var (version, _) = TransitCrypto.ParseVersioned(policy, hmac, "hmac");
        var expected = TransitCrypto.Hmac(policy, version, algorithm, input);
        return CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(expected), System.Text.Encoding.ASCII.GetBytes(hmac));
    }

    private static (string Ciphertext, int Version) EncryptOne(TransitPolicy policy, string plaintextBase64, byte[]? context, byte[]? nonce, byte[]? associatedData, int keyVersion)
    {
        byte[] plaintext;
        try
        {
            plaintext = VaultBase64.Decode(plaintextBase64);
        }
        catch (FormatException e)
        {
            throw VaultException.BadRequest(e.Message);
        }

        try
        {
            return TransitCrypto.Encrypt(policy, keyVersion, plaintext, context, nonce, associatedData);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static string DecryptOne(TransitPolicy policy, string ciphertext, byte[]? context, byte[]? associatedData)
    {
        var (plaintext, _) = TransitCrypto.Decrypt(policy, ciphertext, context, associatedData);
        try
        {
            return Convert.ToBase64String(plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static (string Ciphertext, int Version) RewrapOne(TransitPolicy policy, string ciphertext, byte[]? context, int keyVersion)
    {
        var (plaintext, _) = TransitCrypto.Decrypt(policy, ciphertext, context, null);
        try
        {
            return TransitCrypto.Encrypt(policy, keyVersion, plaintext, context, null, null);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>Null when no batch was sent; otherwise the decoded items (undecodable items fail the whole request).</summary>
    private static List<RequestFields>? BatchItems(RequestFields f, string? requiredField)
    {
        var raw = f.Raw("batch_input");
        if (raw is null)
        {
            return null;
        }

        if (raw is not JsonArray array)
        {
            throw new BatchParseException("'batch_input' expected a list of objects");
        }

        if (array.Count == 0)
        {
            throw VaultException.BadRequest("missing batch input to process");
        }

        var items = new List<RequestFields>(array.Count);
        for (var i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject item)
            {
                throw new BatchParseException($"[{i}] expected a map");
            }

            var fields = new RequestFields(item);
            if (requiredField is not null && !fields.Has(requiredField))
            {
                throw new BatchParseException($"missing {requiredField} in batch request item {i}");
            }

            items.Add(fields);
        }

        return items;
    }

    private static void RequireConsistentContext(List<RequestFields> batch)
    {
        var withContext = batch.Count(i => i.Has("context"));
        if (withContext != 0 && withContext != batch.Count)
        {
            throw VaultException.BadRequest("context should be set either in all the request blocks or in none");
        }
    }

    private static byte[]? Decode(string? base64, string field)
    {
        if (base64 is null)
        {
            return null;
        }

        try
        {
            return VaultBase64.Decode(base64);
        }
        catch (FormatException)
        {
            throw VaultException.BadRequest($"failed to base64-decode {field}");
        }
    }

    private static VaultResult BatchResponse(VaultRequest request, RequestFields f, JsonArray results, int failures, int total, bool allowOverride)
    {
        var status = failures > 0 ? 400 : 200;
        if (allowOverride && failures > 0 && failures < total && f.Has("partial_failure_response_code"))
        {
            var code = f.GetInt("partial_failure_response_code");
            if (code is >= 1 and <= 599)
            {
                status = code;
            }
            else
            {
                request.Warnings.Add("partial_failure_response_code out of range [1,599]; using 400");
            }
        }

        return VaultResult.Data(request, new JsonObject { ["batch_results"] = results }, status);
    }
}
