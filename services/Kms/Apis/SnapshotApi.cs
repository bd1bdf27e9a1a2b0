using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Pii.Kms.Hosting;
using Pii.Kms.Http;

namespace Pii.Kms.Apis;

/// <summary>
/// <c>GET sys/storage/raft/snapshot</c>, in the spirit of Vault's storage snapshot: a consistent copy of the key
/// service's own store taken online with SQLite's backup API while the service keeps serving. The store holds key
/// rings sealed under the master key and token hashes only, so the snapshot is as protected as the store itself (and
/// BackupService wraps it for the offline recovery key only). Vault requires <c>sudo</c> on this path besides
/// <c>read</c>; the ACL pipeline has checked <c>read</c>. Answer: <c>data.snapshot</c> (base64 of the SQLite file),
/// <c>data.format</c> (<c>sqlite3</c>), <c>data.version</c> (this service's version).
/// </summary>
public static class SnapshotApi
{
    public const string Path = "sys/storage/raft/snapshot";

    public static IEndpointRouteBuilder MapSnapshotApi(this IEndpointRouteBuilder app)
    {
        app.MapVaultGroup("/v1/sys/storage/raft").MapGet("/snapshot", Snapshot);
        return app;
    }

    public static VaultResult Snapshot(HttpContext context, KmsRuntime runtime)
    {
        var request = context.Vault();
        if (request.Token is not { } token || !runtime.Policies.Allows(token, request.Path, "sudo"))
        {
            throw VaultException.PermissionDenied(invalidToken: false);
        }
        var store = runtime.Settings.StoragePath;
        var copy = $"{store}.snapshot-{Guid.NewGuid():N}";
        try
        {
            using (var source = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = store, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
            using (var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString()))
            {
                source.Open();
                destination.Open();
                source.BackupDatabase(destination);
            }
            return VaultResult.Data(request, new JsonObject
            {
                ["snapshot"] = Convert.ToBase64String(File.ReadAllBytes(copy)),
                ["format"] = "sqlite3",
                ["version"] = SysApi.Version,
            }, mountType: "system");
        }
        finally
        {
            File.Delete(copy);
        }
    }
}
