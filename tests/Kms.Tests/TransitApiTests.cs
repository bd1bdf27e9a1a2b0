using System.Text.Json.Nodes;

namespace Pii.Kms.Tests;

/// <summary>Transit endpoints against the real server, each expectation taken from VAULT-TRANSIT.md.</summary>
public sealed class TransitApiTests(KmsServerFixture server) : IClassFixture<KmsServerFixture>
{
    private static string B64(string s) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(s));

    private async Task<string> NewKey(object? body = null)
    {
        var name = "k" + Guid.NewGuid().ToString("N")[..10];
        var reply = await server.AsRoot("POST", "transit/keys/" + name, body);
        Assert.Equal(200, reply.Status);
        return name;
    }

    private async Task<string> Encrypt(string key, string plaintextB64, object? extra = null)
    {
        var body = new JsonObject { ["plaintext"] = plaintextB64 };
        if (extra is not null)
        {
            foreach (var (k, v) in JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(extra))!.AsObject())
            {
                body[k] = v?.DeepClone();
            }
        }

        var reply = await server.AsRoot("POST", "transit/encrypt/" + key, body.ToJsonString());
        Assert.Equal(200, reply.Status);
        return reply.Data["ciphertext"]!.GetValue<string>();
    }

    [Fact]
    public async Task Envelope_has_every_top_level_field_and_data_holds_the_result()
    {
        var key = await NewKey();
        var reply = await server.AsRoot("POST", "transit/encrypt/" + key, new { plaintext = B64("hi") });
        var body = reply.Body!.AsObject();
        foreach (var field in new[] { "request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth" })
        {
            Assert.True(body.ContainsKey(field), field);
        }

        Assert.Null(body["warnings"]);
        Assert.Equal(1, reply.Data["key_version"]!.GetValue<int>());
        Assert.StartsWith("vault:v1:", reply.Data["ciphertext"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_returns_200_with_key_info_of_the_right_types_and_create_again_warns()
    {
        var key = await NewKey();
        var read = await server.AsRoot("GET", "transit/keys/" + key);
        Assert.Equal(200, read.Status);
        var d = read.Data;
        Assert.Equal("aes256-gcm96", d["type"]!.GetValue<string>());
        Assert.Equal(key, d["name"]!.GetValue<string>());
        Assert.Equal(1, d["latest_version"]!.GetValue<int>());
        Assert.Equal(1, d["min_decryption_version"]!.GetValue<int>());
        Assert.Equal(0, d["min_encryption_version"]!.GetValue<int>());
        Assert.Equal(0, d["min_available_version"]!.GetValue<int>());
        Assert.Equal(0, d["auto_rotate_period"]!.GetValue<long>());
        Assert.False(d["derived"]!.GetValue<bool>());
        Assert.False(d["deletion_allowed"]!.GetValue<bool>());
        Assert.True(d["supports_encryption"]!.GetValue<bool>());
        Assert.False(d["supports_signing"]!.GetValue<bool>());
        Assert.True(d["keys"]!["1"]!.GetValue<long>() > 1_700_000_000);

        var again = await server.AsRoot("POST", "transit/keys/" + key, new { derived = true });
        Assert.Equal(200, again.Status);
        Assert.Contains($"key {key} already existed", again.Body!["warnings"]!.AsArray().Select(w => w!.GetValue<string>()));
        Assert.False(again.Data["derived"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Create_rejects_convergent_without_derived_short_rotation_and_unknown_type()
    {
        var name = "bad" + Guid.NewGuid().ToString("N")[..8];
        var convergent = await server.AsRoot("POST", "transit/keys/" + name, new { convergent_encryption = true });
        Assert.Equal(400, convergent.Status);
        Assert.Contains("convergent encryption requires derivation to be enabled", convergent.Errors);
        var period = await server.AsRoot("POST", "transit/keys/" + name, new { auto_rotate_period = "10m" });
        Assert.Equal(400, period.Status);
        Assert.Contains("auto rotate period must be 0 to disable or at least an hour", period.Errors);
        var type = await server.AsRoot("POST", "transit/keys/" + name, new { type = "rsa-9" });
        Assert.Equal(400, type.Status);
        Assert.Contains("unknown key type", type.Errors[0], StringComparison.Ordinal);
        Assert.Equal(404, (await server.AsRoot("GET", "transit/keys/" + name)).Status);
    }

    [Fact]
    public async Task Missing_key_read_is_404_with_empty_errors_but_data_calls_are_400()
    {
        var read = await server.AsRoot("GET", "transit/keys/missing-key");
        Assert.Equal(404, read.Status);
        Assert.Empty(read.Errors);
        foreach (var path in new[] { "transit/decrypt/missing-key", "transit/datakey/plaintext/missing-key", "transit/keys/missing-key/rotate", "transit/keys/missing-key/config", "transit/rewrap/missing-key" })
        {
            var reply = await server.AsRoot("POST", path, new { ciphertext = "vault:v1:AAAA" });
            Assert.Equal(400, reply.Status);
            Assert.Single(reply.Errors);
        }
    }

    [Fact]
    public async Task List_works_with_LIST_verb_and_list_query()
    {
        var key = await NewKey();
        var viaVerb = await server.AsRoot("LIST", "transit/keys");
        var viaQuery = await server.AsRoot("GET", "transit/keys?list=true");
        Assert.Equal(200, viaVerb.Status);
        Assert.Contains(key, viaVerb.Data["keys"]!.AsArray().Select(k => k!.GetValue<string>()));
        Assert.Contains(key, viaQuery.Data["keys"]!.AsArray().Select(k => k!.GetValue<string>()));
    }

    [Fact]
    public async Task Encrypt_decrypt_round_trip_including_empty_plaintext_and_layout()
    {
        var key = await NewKey();
        var ct = await Encrypt(key, B64("hello world"));
        var body = Convert.FromBase64String(ct["vault:v1:".Length..]);
        Assert.Equal(11 + 28, body.Length);
        var dec = await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = ct });
        Assert.Equal(B64("hello world"), dec.Data["plaintext"]!.GetValue<string>());

        var empty = await Encrypt(key, "");
        Assert.Equal(40, empty["vault:v1:".Length..].Length);
        var decEmpty = await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = empty });
        Assert.Equal("", decEmpty.Data["plaintext"]!.GetValue<string>());
    }

    [Fact]
    public async Task Authorization_bearer_header_is_accepted_and_POST_equals_PUT()
    {
        var key = await NewKey();
        using var request = new HttpRequestMessage(HttpMethod.Put, "/v1/transit/encrypt/" + key)
        {
            Content = new StringContent($$"""{"plaintext":"{{B64("x")}}"}"""),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", server.RootToken);
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(200, (int)response.StatusCode);
    }

    [Fact]
    public async Task Bad_inputs_get_vaults_status_and_message()
    {
        var key = await NewKey();
        var other = await NewKey();
        var ct = await Encrypt(key, B64("secret"));

        async Task Expect400(string path, object body, string message)
        {
            var reply = await server.AsRoot("POST", path, body);
            Assert.Equal(400, reply.Status);
            Assert.Contains(reply.Errors, e => e.Contains(message, StringComparison.Ordinal));
            Assert.DoesNotContain("   at ", reply.Text, StringComparison.Ordinal);
        }

        await Expect400("transit/encrypt/" + key, new { }, "missing plaintext to encrypt");
        await Expect400("transit/encrypt/" + key, new { plaintext = "not base64!" }, "illegal base64 data at input byte");
        await Expect400("transit/encrypt/" + key, new { plaintext = "aGk" }, "illegal base64 data at input byte");
        await Expect400("transit/encrypt/" + key, new { plaintext = "aGk=", key_version = 7 }, "requested version for encryption is higher than the latest key version");
        await Expect400("transit/encrypt/" + key, new { plaintext = "aGk=", key_version = -1 }, "requested version for encryption is negative");
        await Expect400("transit/encrypt/" + key, new { plaintext = "aGk=", key_version = "abc" }, "error converting input");
        await Expect400("transit/encrypt/" + key, new { plaintext = "aGk=", nonce = "AAAAAAAAAAAAAAAA" }, "provided nonce not allowed for this key");
        await Expect400("transit/decrypt/" + key, new { ciphertext = "nope" }, "invalid ciphertext: no prefix");
        await Expect400("transit/decrypt/" + key, new { ciphertext = "vault:v1" }, "invalid ciphertext: wrong number of fields");
        await Expect400("transit/decrypt/" + key, new { ciphertext = "vault:vX:AAAA" }, "invalid ciphertext: version number could not be decoded");
        await Expect400("transit/decrypt/" + key, new { ciphertext = "vault:v9:AAAA" }, "invalid ciphertext: version is too new");
        await Expect400("transit/decrypt/" + key, new { ciphertext = "vault:v1:@@@@" }, "invalid ciphertext: could not decode base64");
        await Expect400("transit/decrypt/" + key, new { ciphertext = "vault:v1:AAAA" }, "invalid ciphertext length");
        await Expect400("transit/decrypt/" + other, new { ciphertext = ct }, "cipher: message authentication failed");

        var bytes = Convert.FromBase64String(ct["vault:v1:".Length..]);
        bytes[15] ^= 1;
        await Expect400("transit/decrypt/" + key, new { ciphertext = "vault:v1:" + Convert.ToBase64String(bytes) }, "cipher: message authentication failed");

        var malformed = await server.AsRoot("POST", "transit/encrypt/" + key, "{\"plaintext\": ");
        Assert.Equal(400, malformed.Status);
        var wrongType = await server.AsRoot("POST", "transit/encrypt/" + key, "[1,2]");
        Assert.Equal(400, wrongType.Status);
        var objectPlaintext = await server.AsRoot("POST", "transit/encrypt/" + key, new { plaintext = new { a = 1 } });
        Assert.Equal(400, objectPlaintext.Status);
    }

    [Fact]
    public async Task Weak_integers_unknown_fields_and_durations_follow_vault()
    {
        var key = await NewKey();
        await server.AsRoot("POST", $"transit/keys/{key}/rotate");
        var reply = await server.AsRoot("POST", "transit/encrypt/" + key, new { plaintext = B64("a"), key_version = "1", bogus = true, other = 2 });
        Assert.Equal(200, reply.Status);
        Assert.Equal(1, reply.Data["key_version"]!.GetValue<int>());
        Assert.Equal("Endpoint ignored these unrecognized parameters: [bogus other]", reply.Body!["warnings"]![0]!.GetValue<string>());

        var config = await server.AsRoot("POST", $"transit/keys/{key}/config", new { auto_rotate_period = "24h" });
        Assert.Equal(86400, config.Data["auto_rotate_period"]!.GetValue<long>());
        var seconds = await server.AsRoot("POST", $"transit/keys/{key}/config", new { auto_rotate_period = 7200 });
        Assert.Equal(7200, seconds.Data["auto_rotate_period"]!.GetValue<long>());
    }

    [Fact]
    public async Task Rotation_min_decryption_version_and_trim_gate_old_ciphertexts()
    {
        var key = await NewKey();
        var v1 = await Encrypt(key, B64("one"));
        var rotated = await server.AsRoot("POST", $"transit/keys/{key}/rotate");
        Assert.Equal(200, rotated.Status);
        Assert.Equal(2, rotated.Data["latest_version"]!.GetValue<int>());
        var v2 = await Encrypt(key, B64("two"));
        Assert.StartsWith("vault:v2:", v2, StringComparison.Ordinal);
        Assert.Equal(200, (await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = v1 })).Status);

        var older = await server.AsRoot("POST", "transit/encrypt/" + key, new { plaintext = B64("x"), key_version = 1 });
        Assert.StartsWith("vault:v1:", older.Data["ciphertext"]!.GetValue<string>(), StringComparison.Ordinal);

        var config = await server.AsRoot("POST", $"transit/keys/{key}/config", new { min_decryption_version = 2 });
        Assert.Equal(200, config.Status);
        Assert.False(config.Data["keys"]!.AsObject().ContainsKey("1"));
        var tooOld = await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = v1 });
        Assert.Equal(400, tooOld.Status);
        Assert.Contains("ciphertext or signature version is disallowed by policy (too old)", tooOld.Errors);

        var lowered = await server.AsRoot("POST", $"transit/keys/{key}/config", new { min_decryption_version = 1 });
        Assert.True(lowered.Data["keys"]!.AsObject().ContainsKey("1"));
        Assert.Equal(200, (await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = v1 })).Status);

        var trimNoMinEnc = await server.AsRoot("POST", $"transit/keys/{key}/trim", new { min_available_version = 2 });
        Assert.Equal(400, trimNoMinEnc.Status);
        await server.AsRoot("POST", $"transit/keys/{key}/config", new { min_decryption_version = 2, min_encryption_version = 2 });
        var trim = await server.AsRoot("POST", $"transit/keys/{key}/trim", new { min_available_version = 2 });
        Assert.Equal(200, trim.Status);
        Assert.Equal(2, trim.Data["min_available_version"]!.GetValue<int>());
        var restore = await server.AsRoot("POST", $"transit/keys/{key}/config", new { min_decryption_version = 1 });
        Assert.Equal(400, restore.Status);
        Assert.Equal(200, (await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = v2 })).Status);
    }

    [Fact]
    public async Task Config_validation_errors_are_400()
    {
        var key = await NewKey();
        Assert.Equal(400, (await server.AsRoot("POST", $"transit/keys/{key}/config", new { min_decryption_version = 5 })).Status);
        Assert.Equal(400, (await server.AsRoot("POST", $"transit/keys/{key}/config", new { min_encryption_version = -1 })).Status);
        Assert.Equal(400, (await server.AsRoot("POST", $"transit/keys/{key}/config", new { auto_rotate_period = "59m" })).Status);
        var zero = await server.AsRoot("POST", $"transit/keys/{key}/config", new { min_decryption_version = 0 });
        Assert.Equal(200, zero.Status);
        Assert.Equal(1, zero.Data["min_decryption_version"]!.GetValue<int>());
        Assert.NotNull(zero.Body!["warnings"]);
    }

    [Fact]
    public async Task Delete_requires_deletion_allowed_and_then_answers_204()
    {
        var key = await NewKey();
        var refused = await server.AsRoot("DELETE", "transit/keys/" + key);
        Assert.Equal(400, refused.Status);
        Assert.Contains($"error deleting policy {key}: deletion is not allowed for this key", refused.Errors);
        await server.AsRoot("POST", $"transit/keys/{key}/config", new { deletion_allowed = true });
        var deleted = await server.AsRoot("DELETE", "transit/keys/" + key);
        Assert.Equal(204, deleted.Status);
        Assert.Equal("", deleted.Text);
        Assert.Equal(404, (await server.AsRoot("GET", "transit/keys/" + key)).Status);
        Assert.Equal(400, (await server.AsRoot("DELETE", "transit/keys/" + key)).Status);
    }

    [Fact]
    public async Task Batch_encrypt_and_decrypt_keep_order_references_and_partial_failure_codes()
    {
        var key = await NewKey();
        var enc = await server.AsRoot("POST", "transit/encrypt/" + key, new
        {
            batch_input = new object[] { new { plaintext = B64("a"), reference = "r1" }, new { plaintext = "!!", reference = "r2" }, new { plaintext = B64("c") } },
        });
        Assert.Equal(400, enc.Status);
        var results = enc.Data["batch_results"]!.AsArray();
        Assert.Equal(3, results.Count);
        Assert.Equal("r1", results[0]!["reference"]!.GetValue<string>());
        Assert.NotNull(results[0]!["ciphertext"]);
        Assert.Null(results[0]!["error"]);
        Assert.Contains("illegal base64", results[1]!["error"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Null(results[1]!["ciphertext"]);
        Assert.Equal("", results[2]!["reference"]!.GetValue<string>());

        var ok = await server.AsRoot("POST", "transit/encrypt/" + key, new { batch_input = new object[] { new { plaintext = B64("a") } } });
        Assert.Equal(200, ok.Status);

        var partial = await server.AsRoot("POST", "transit/encrypt/" + key, new
        {
            batch_input = new object[] { new { plaintext = B64("a") }, new { plaintext = "!!" } },
            partial_failure_response_code = 207,
        });
        Assert.Equal(207, partial.Status);
        var allFail = await server.AsRoot("POST", "transit/encrypt/" + key, new { batch_input = new object[] { new { plaintext = "!!" } }, partial_failure_response_code = 207 });
        Assert.Equal(400, allFail.Status);

        var ct = results[0]!["ciphertext"]!.GetValue<string>();
        var dec = await server.AsRoot("POST", "transit/decrypt/" + key, new { batch_input = new object[] { new { ciphertext = ct, reference = "x" }, new { ciphertext = "vault:v1:AAAA" } } });
        Assert.Equal(400, dec.Status);
        var decResults = dec.Data["batch_results"]!.AsArray();
        Assert.Equal(B64("a"), decResults[0]!["plaintext"]!.GetValue<string>());
        Assert.Equal("", decResults[1]!["plaintext"]!.GetValue<string>());
        Assert.NotNull(decResults[1]!["error"]);

        var empty = await server.AsRoot("POST", "transit/encrypt/" + key, new { batch_input = Array.Empty<object>() });
        Assert.Equal(400, empty.Status);
        Assert.Contains("missing batch input to process", empty.Errors);
        var mixed = await server.AsRoot("POST", "transit/encrypt/" + key, new { batch_input = new object[] { new { plaintext = "", context = "YQ==" }, new { plaintext = "" } } });
        Assert.Equal(400, mixed.Status);
        Assert.Contains("context should be set either in all the request blocks or in none", mixed.Errors);
        var stringVersion = await server.AsRoot("POST", "transit/encrypt/" + key, new { batch_input = new object[] { new { plaintext = "", key_version = "1" } } });
        Assert.Equal(400, stringVersion.Status);
        Assert.Contains("failed to parse batch input", stringVersion.Errors[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rewrap_moves_to_latest_version_without_plaintext_and_batch_failures_are_200()
    {
        var key = await NewKey();
        var v1 = await Encrypt(key, B64("payload"));
        await server.AsRoot("POST", $"transit/keys/{key}/rotate");
        var rewrap = await server.AsRoot("POST", "transit/rewrap/" + key, new { ciphertext = v1 });
        Assert.Equal(200, rewrap.Status);
        Assert.Null(rewrap.Data["plaintext"]);
        var v2 = rewrap.Data["ciphertext"]!.GetValue<string>();
        Assert.StartsWith("vault:v2:", v2, StringComparison.Ordinal);
        Assert.Equal(2, rewrap.Data["key_version"]!.GetValue<int>());
        var again = await server.AsRoot("POST", "transit/rewrap/" + key, new { ciphertext = v2 });
        Assert.NotEqual(v2, again.Data["ciphertext"]!.GetValue<string>());
        var dec = await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = v2 });
        Assert.Equal(B64("payload"), dec.Data["plaintext"]!.GetValue<string>());

        var batch = await server.AsRoot("POST", "transit/rewrap/" + key, new { batch_input = new object[] { new { ciphertext = v1 }, new { ciphertext = "garbage" } } });
        Assert.Equal(200, batch.Status);
        Assert.NotNull(batch.Data["batch_results"]![1]!["error"]);
    }

    [Fact]
    public async Task Datakey_plaintext_decrypts_to_itself_and_wrapped_has_no_plaintext()
    {
        var key = await NewKey();
        var plain = await server.AsRoot("POST", "transit/datakey/plaintext/" + key, new { });
        Assert.Equal(200, plain.Status);
        var dek = plain.Data["plaintext"]!.GetValue<string>();
        Assert.Equal(32, Convert.FromBase64String(dek).Length);
        var dec = await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = plain.Data["ciphertext"]!.GetValue<string>() });
        Assert.Equal(dek, dec.Data["plaintext"]!.GetValue<string>());

        var wrapped = await server.AsRoot("POST", "transit/datakey/wrapped/" + key, new { bits = 512 });
        Assert.Equal(200, wrapped.Status);
        Assert.False(wrapped.Data.AsObject().ContainsKey("plaintext"));
        var unwrapped = await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = wrapped.Data["ciphertext"]!.GetValue<string>() });
        Assert.Equal(64, Convert.FromBase64String(unwrapped.Data["plaintext"]!.GetValue<string>()).Length);

        Assert.Contains("invalid bit length", (await server.AsRoot("POST", "transit/datakey/plaintext/" + key, new { bits = 100 })).Errors);
        Assert.Contains("Invalid path, must be 'plaintext' or 'wrapped'", (await server.AsRoot("POST", "transit/datakey/other/" + key, new { })).Errors);
    }

    [Fact]
    public async Task Hmac_uses_the_version_hmac_key_and_the_vault_prefix()
    {
        var key = await NewKey();
        var a = await server.AsRoot("POST", "transit/hmac/" + key, new { input = B64("abc") });
        var b = await server.AsRoot("POST", "transit/hmac/" + key + "/sha2-256", new { input = B64("abc") });
        var c = await server.AsRoot("POST", "transit/hmac/" + key + "/sha2-512", new { input = B64("abc") });
        var hmac = a.Data["hmac"]!.GetValue<string>();
        Assert.StartsWith("vault:v1:", hmac, StringComparison.Ordinal);
        Assert.Equal(32, Convert.FromBase64String(hmac["vault:v1:".Length..]).Length);
        Assert.Equal(hmac, b.Data["hmac"]!.GetValue<string>());
        Assert.Equal(64, Convert.FromBase64String(c.Data["hmac"]!.GetValue<string>()["vault:v1:".Length..]).Length);
        Assert.Contains("missing input for HMAC", (await server.AsRoot("POST", "transit/hmac/" + key, new { })).Errors);
        var batch = await server.AsRoot("POST", "transit/hmac/" + key, new { batch_input = new object[] { new { input = B64("abc"), reference = "z" }, new { input = "!" } } });
        Assert.Equal(200, batch.Status);
        Assert.Equal(hmac, batch.Data["batch_results"]![0]!["hmac"]!.GetValue<string>());
        Assert.NotNull(batch.Data["batch_results"]![1]!["error"]);
    }

    [Fact]
    public async Task Derived_keys_need_context_and_convergent_keys_are_deterministic()
    {
        var derived = await NewKey(new { derived = true });
        var missing = await server.AsRoot("POST", "transit/encrypt/" + derived, new { plaintext = B64("x") });
        Assert.Equal(400, missing.Status);
        Assert.Contains("missing 'context' for key derivation", missing.Errors[0], StringComparison.Ordinal);
        var ct = await Encrypt(derived, B64("x"), new { context = B64("user-1") });
        var wrongContext = await server.AsRoot("POST", "transit/decrypt/" + derived, new { ciphertext = ct, context = B64("user-2") });
        Assert.Contains("cipher: message authentication failed", wrongContext.Errors);
        var right = await server.AsRoot("POST", "transit/decrypt/" + derived, new { ciphertext = ct, context = B64("user-1") });
        Assert.Equal(B64("x"), right.Data["plaintext"]!.GetValue<string>());

        var convergent = await NewKey(new { derived = true, convergent_encryption = true });
        var info = await server.AsRoot("GET", "transit/keys/" + convergent);
        Assert.Equal("hkdf_sha256", info.Data["kdf"]!.GetValue<string>());
        Assert.Equal(-1, info.Data["convergent_encryption_version"]!.GetValue<int>());
        var c1 = await Encrypt(convergent, B64("same"), new { context = B64("ctx") });
        var c2 = await Encrypt(convergent, B64("same"), new { context = B64("ctx") });
        var c3 = await Encrypt(convergent, B64("same"), new { context = B64("other") });
        Assert.Equal(c1, c2);
        Assert.NotEqual(c1, c3);
    }

    [Fact]
    public async Task Associated_data_is_bound_but_not_stored()
    {
        var key = await NewKey();
        var ct = await Encrypt(key, B64("x"), new { associated_data = B64("row-1") });
        Assert.Contains("cipher: message authentication failed", (await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = ct })).Errors);
        Assert.Equal(200, (await server.AsRoot("POST", "transit/decrypt/" + key, new { ciphertext = ct, associated_data = B64("row-1") })).Status);
    }

    [Fact]
    public async Task Body_over_32_MiB_is_413()
    {
        var key = await NewKey();
        var big = "{\"plaintext\":\"" + new string('A', 32 * 1024 * 1024 + 16) + "\"}";
        var reply = await server.AsRoot("POST", "transit/encrypt/" + key, big);
        Assert.Equal(413, reply.Status);
        Assert.NotEmpty(reply.Errors);
    }

    [Fact]
    public async Task Hmac_verify_mismatch_is_200_with_valid_false()
    {
        var key = await NewKey();
        var hmac = (await server.AsRoot("POST", "transit/hmac/" + key, new { input = B64("abc") })).Data["hmac"]!.GetValue<string>();
        var good = await server.AsRoot("POST", "transit/verify/" + key, new { input = B64("abc"), hmac });
        Assert.Equal(200, good.Status);
        Assert.True(good.Data["valid"]!.GetValue<bool>());
        var bad = await server.AsRoot("POST", "transit/verify/" + key, new { input = B64("abd"), hmac });
        Assert.Equal(200, bad.Status);
        Assert.False(bad.Data["valid"]!.GetValue<bool>());
        Assert.Equal(400, (await server.AsRoot("POST", "transit/verify/" + key, new { input = B64("abc"), hmac = "vault:v9:AAAA" })).Status);
        var batch = await server.AsRoot("POST", "transit/verify/" + key, new { batch_input = new object[] { new { input = B64("abc"), hmac }, new { input = B64("x"), hmac } } });
        Assert.True(batch.Data["batch_results"]![0]!["valid"]!.GetValue<bool>());
        Assert.Null(batch.Data["batch_results"]![1]!["valid"]);
    }

    [Fact]
    public async Task Unknown_paths_are_404_and_unsupported_methods_405()
    {
        Assert.Equal(404, (await server.AsRoot("GET", "nothing/here")).Status);
        Assert.Equal(405, (await server.AsRoot("DELETE", "transit/encrypt/x")).Status);
        Assert.Equal(405, (await server.AsRoot("GET", "transit/keys")).Status);
    }

    [Fact]
    public async Task Health_is_unauthenticated_bare_json()
    {
        var reply = await server.Send("GET", "sys/health", null);
        Assert.Equal(200, reply.Status);
        Assert.False(reply.Body!["sealed"]!.GetValue<bool>());
        Assert.True(reply.Body!["initialized"]!.GetValue<bool>());
        Assert.Null(reply.Body!["data"]);
        Assert.IsType<long>(reply.Body!["server_time_utc"]!.GetValue<long>());
        Assert.Equal(299, (await server.Send("GET", "sys/health?activecode=299", null)).Status);
        Assert.Equal(400, (await server.Send("GET", "sys/health?activecode=abc", null)).Status);
        Assert.Equal(400, (await server.Send("GET", "sys/health?standbycode=x", null)).Status);
    }
}
