namespace Pii.AppHost.Hosting;

/// <summary>Table grants of users whose tables exist only once their service has migrated its schema.</summary>
public static class ServiceGrants
{
    /// <summary>
    /// What FormApi's public intake may do in its database, and nothing else: INSERT its rows and the DEKs it creates,
    /// and read whether a DEK is still active (its guarded INSERT … SELECT; never a wrapped DEK, never a stored row).
    /// </summary>
    public static readonly IReadOnlyList<TableGrant> FormApiIntake =
        [TableGrant.Insert("dnc_preferences"), TableGrant.Insert("encryption_keys"), TableGrant.SelectColumns("encryption_keys", "id", "retired_at", "destroyed_at")];
}
