using System.Globalization;
using System.Text.Json.Nodes;
using Pii.Kms.Hosting;
using Pii.Kms.Http;
using Pii.Kms.Transit;

namespace Pii.Kms.Apis;

/// <summary>Key management: <c>transit/keys/:name</c> create/read/delete/list, config, rotate, trim.</summary>
public static class TransitKeysApi
{
    private static readonly string[] Write = ["POST", "PUT"];

    public static IEndpointRouteBuilder MapTransitKeysApi(this IEndpointRouteBuilder app)
    {
        var keys = app.MapVaultGroup("/v1/transit/keys");
        keys.MapMethods("", ["LIST"], List);
        keys.MapGet("", ListOrUnsupported);
        keys.MapMethods("/{name}", Write, Create);
        keys.MapGet("/{name}", Read);
        keys.MapDelete("/{name}", Delete);
        keys.MapMethods("/{name}/config", Write, Config);
        keys.MapMethods("/{name}/rotate", Write, Rotate);
        keys.MapMethods("/{name}/trim", Write, Trim);
        var config = app.MapVaultGroup("/v1/transit/config/keys");
        config.MapGet("", ReadMountConfig);
        config.MapMethods("", Write, WriteMountConfig);
        return app;
    }

    public static VaultResult Create(string name, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var f = new RequestFields(request, "type", "derived", "convergent_encryption", "exportable", "allow_plaintext_backup", "auto_rotate_period", "key_size", "context");
        var creation = new KeyCreation(
            f.GetString("type") ?? TransitPolicy.Aes256Gcm96,
            f.GetBool("derived") ?? false,
            f.GetBool("convergent_encryption") ?? false,
            f.DurationSeconds("auto_rotate_period") ?? 0,
            f.GetBool("exportable") ?? false,
            f.GetBool("allow_plaintext_backup") ?? false);
        var (policy, existed) = runtime.Keys.GetOrCreate(name, creation);
        if (existed)
        {
            request.Warnings.Add($"key {name} already existed");
        }

        return VaultResult.Data(request, KeyInfo(policy));
    }

    public static VaultResult Read(string name, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        if (request.Operation == "list")
        {
            return VaultResult.Error(405, "unsupported operation");
        }

        var policy = runtime.Keys.Find(name);
        return policy is null ? VaultResult.Error(404) : VaultResult.Data(request, KeyInfo(policy));
    }

    public static VaultResult Delete(string name, KmsRuntime runtime)
    {
        runtime.Keys.Delete(name);
        return VaultResult.NoContent();
    }

    public static VaultResult List(HttpContext context, KmsRuntime runtime)
    {
        var names = runtime.Keys.Names();
        return names.Count == 0
            ? VaultResult.Error(404)
            : VaultResult.Data(context.Vault(), new JsonObject { ["keys"] = new JsonArray([.. names.Select(n => (JsonNode)n)]) });
    }

    public static VaultResult ListOrUnsupported(HttpContext context, KmsRuntime runtime) =>
        context.Vault().Operation == "list" ? List(context, runtime) : VaultResult.Error(405, "unsupported operation");

    public static VaultResult Config(string name, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var f = new RequestFields(request, "min_decryption_version", "min_encryption_version", "deletion_allowed", "exportable", "allow_plaintext_backup", "auto_rotate_period");
        var change = new KeyConfigChange(
            f.Has("min_decryption_version") ? f.GetInt("min_decryption_version") : null,
            f.Has("min_encryption_version") ? f.GetInt("min_encryption_version") : null,
            f.GetBool("deletion_allowed"),
            f.GetBool("exportable"),
            f.GetBool("allow_plaintext_backup"),
            f.DurationSeconds("auto_rotate_period"));
        var policy = runtime.Keys.Configure(name, change, request.Warnings);
        return VaultResult.Data(request, KeyInfo(policy));
    }

    public static VaultResult Rotate(string name, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        _ = new RequestFields(request, "managed_key_name", "managed_key_id");
        return VaultResult.Data(request, KeyInfo(runtime.Keys.Rotate(name)));
    }

    public static VaultResult Trim(string name, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var f = new RequestFields(request, "min_available_version");
        return VaultResult.Data(request, KeyInfo(runtime.Keys.Trim(name, f.GetInt("min_available_version"))));
    }

    public static VaultResult ReadMountConfig(HttpContext context, KmsRuntime runtime) =>
        VaultResult.Data(context.Vault(), new JsonObject { ["disable_upsert"] = runtime.Keys.DisableUpsert });

    public static VaultResult WriteMountConfig(HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        var f = new RequestFields(request, "disable_upsert");
        if (f.GetBool("disable_upsert") is { } disabled)
        {
            runtime.Keys.SetDisableUpsert(disabled);
        }

        return ReadMountConfig(context, runtime);
    }

    /// <summary>Vault's read-key <c>data</c>, field names and JSON types exactly as Vault returns them.</summary>
    public static JsonObject KeyInfo(TransitPolicy p)
    {
        ArgumentNullException.ThrowIfNull(p);
        var keys = new JsonObject();
        foreach (var (version, entry) in p.Versions)
        {
            if (version >= p.MinDecryptionVersion)
            {
                keys[version.ToString(CultureInfo.InvariantCulture)] = entry.CreatedUnixSeconds;
            }
        }

        var data = new JsonObject
        {
            ["allow_plaintext_backup"] = p.AllowPlaintextBackup,
            ["auto_rotate_period"] = p.AutoRotatePeriodSeconds,
            ["deletion_allowed"] = p.DeletionAllowed,
            ["derived"] = p.Derived,
            ["exportable"] = p.Exportable,
            ["imported_key"] = false,
            ["keys"] = keys,
            ["latest_version"] = p.LatestVersion,
            ["min_available_version"] = p.MinAvailableVersion,
            ["min_decryption_version"] = p.MinDecryptionVersion,
            ["min_encryption_version"] = p.MinEncryptionVersion,
            ["name"] = p.Name,
            ["supports_decryption"] = true,
            ["supports_derivation"] = true,
            ["supports_encryption"] = true,
            ["supports_signing"] = false,
            ["type"] = p.Type,
        };
        if (p.Derived)
        {
            data["kdf"] = p.Kdf;
            data["convergent_encryption"] = p.ConvergentEncryption;
            if (p.ConvergentEncryption)
            {
                data["convergent_encryption_version"] = p.ConvergentVersionOfPolicy;
            }
        }

        return data;
    }
}
