using System.Globalization;
using System.Text.Json.Nodes;
using Pii.Kms.Hosting;
using Pii.Kms.Http;
using Pii.Kms.Transit;

namespace Pii.Kms.Apis;

/// <summary>
/// Keys kept offline: <c>transit/backup/:name</c>, <c>transit/restore[/:name]</c> and <c>transit/export/:type/:name[/:version]</c>,
/// as Vault answers them, for keys created or configured <c>exportable</c> (export) and also <c>allow_plaintext_backup</c>
/// (backup). Vault reports a refused backup or restore as a bare error (500); here it is a 400 with Vault's message.
/// </summary>
public static class TransitBackupApi
{
    private static readonly string[] Write = ["POST", "PUT"];

    public static IEndpointRouteBuilder MapTransitBackupApi(this IEndpointRouteBuilder app)
    {
        var transit = app.MapVaultGroup("/v1/transit");
        transit.MapGet("/backup/{name}", Backup);
        transit.MapMethods("/restore", Write, (HttpContext c, KmsRuntime r) => Restore(null, c, r));
        transit.MapMethods("/restore/{name}", Write, Restore);
        transit.MapGet("/export/{type}/{name}", (string type, string name, HttpContext c, KmsRuntime r) => Export(type, name, null, c, r));
        transit.MapGet("/export/{type}/{name}/{version}", Export);
        return app;
    }

    public static VaultResult Backup(string name, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        return VaultResult.Data(request, new JsonObject { ["backup"] = runtime.Keys.Backup(name) });
    }

    public static VaultResult Restore(string? name, HttpContext context, KmsRuntime runtime)
    {
        var f = new RequestFields(context.Vault(), "backup", "force", "name");
        var backup = f.GetString("backup");
        if (string.IsNullOrEmpty(backup))
        {
            throw VaultException.BadRequest("'backup' must be supplied");
        }

        runtime.Keys.Restore(name, backup, f.GetBool("force") ?? false);
        return VaultResult.NoContent();
    }

    /// <summary>The raw base key (<c>encryption-key</c>) or per-version HMAC key (<c>hmac-key</c>), base64, by version.</summary>
    public static VaultResult Export(string type, string name, string? version, HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        if (type is not ("encryption-key" or "hmac-key"))
        {
            throw VaultException.BadRequest($"invalid export type: {type}");
        }

        var policy = runtime.Keys.Find(name);
        if (policy is null)
        {
            return VaultResult.Error(404);
        }

        if (!policy.Exportable)
        {
            throw VaultException.BadRequest("private key material is not exportable");
        }

        var versions = policy.Versions.Values.Where(v => v.Version >= policy.MinDecryptionVersion).ToList();
        if (version is not null)
        {
            int wanted;
            if (version == "latest")
            {
                wanted = policy.LatestVersion;
            }
            else if (!int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out wanted))
            {
                throw VaultException.BadRequest("invalid key version");
            }

            if (wanted < policy.MinDecryptionVersion)
            {
                throw VaultException.BadRequest("version for export is below minimum decryption version");
            }

            versions = [.. versions.Where(v => v.Version == wanted)];
            if (versions.Count == 0)
            {
                throw VaultException.BadRequest("version does not exist or cannot be found");
            }
        }

        var keys = new JsonObject();
        foreach (var v in versions)
        {
            keys[v.Version.ToString(CultureInfo.InvariantCulture)] = Convert.ToBase64String(type == "hmac-key" ? v.HmacKey : v.Key);
        }

        return VaultResult.Data(request, new JsonObject { ["name"] = policy.Name, ["type"] = policy.Type, ["keys"] = keys });
    }
}
