using System.Security.Cryptography;
using Pii.Crypto.Keys;
using Pii.AppHost.Hosting;

namespace Pii.AppHost;

/// <summary>Which identity a FormApi process runs with (two resources, one project; issue 5).</summary>
public enum FormApiInstance
{
    /// <summary>The public intake: may store new DNC rows, can never read them back.</summary>
    Intake,

    /// <summary>The authenticated back office: reads, reveals, key operations.</summary>
    Backoffice,
}

public static class ServiceComposition
{
    public const string FormApiProject = "services/FormApi/FormApi.csproj";

    /// <summary>A service project with an http endpoint; others wait for its <c>/health</c>.</summary>
    public static ProjectResource AddService(this AppModel model, string name, string projectPath) =>
        model.Add(new ProjectResource(model, name, projectPath)).WithHttpHealthCheck("/health");

    /// <summary>FormApi as one of its two identities; the process learns which from <c>FormApi__Instance</c>.</summary>
    public static ProjectResource AddFormApi(this AppModel model, string name, FormApiInstance instance) =>
        model.AddService(name, FormApiProject).WithEnvironment("FormApi__Instance", instance.ToString().ToLowerInvariant());

    /// <summary>
    /// What the public intake may do in its database, and nothing else: INSERT its rows and the DEKs it creates, and
    /// read whether a DEK is still active (its guarded INSERT … SELECT; never a wrapped DEK, never a stored row).
    /// </summary>
    public static readonly IReadOnlyList<TableGrant> FormApiIntakeGrants =
        [TableGrant.Insert("dnc_preferences"), TableGrant.Insert("encryption_keys"), TableGrant.SelectColumns("encryption_keys", "id", "retired_at", "destroyed_at")];

    /// <summary>
    /// The intake's MariaDB user: no privilege until <paramref name="backoffice"/> (which migrates the schema) is ready,
    /// then exactly <see cref="FormApiIntakeGrants"/> plus INSERT on <paramref name="extraTables"/>.
    /// </summary>
    public static ConnectionReference AddFormApiIntakeUser(this MariaDbDatabase dnc, Resource backoffice, string user, params string[] extraTables)
    {
        var reference = dnc.AddUser(user, MySqlAccess.InsertOnly);
        backoffice.OnReady.Add(cancellationToken => dnc.GrantAsync(user, [.. FormApiIntakeGrants, .. extraTables.Select(TableGrant.Insert)], cancellationToken));
        return reference;
    }

    /// <summary>
    /// A 32-byte key that only this service holds (e.g. the tier-3 application key the key service must never see):
    /// generated once into the secrets folder (0600) and passed as a file path, so the key itself is in no environment.
    /// </summary>
    public static ProjectResource WithGeneratedKeyFile(this ProjectResource project, AppModel model, string environmentName, string secretName)
    {
        model.Secrets.GetOrCreate(secretName, () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        return project.WithEnvironment(environmentName, model.Secrets.PathOf(secretName));
    }

    /// <summary>
    /// The offline recovery key pair every backup (and document) is also wrapped for: made once, on the first start that
    /// finds no public key, as <c>recovery-private.pem</c> (encrypted PKCS#8) with <c>recovery-passphrase</c> beside it
    /// (both 0600) and <c>recovery-public.pem</c>. The operator moves the first two offline; the public key alone keeps
    /// serving, so a moved private key is never replaced by a new pair.
    /// </summary>
    public static ProjectResource WithRecoveryPublicKey(this ProjectResource project, AppModel model, string environmentName)
    {
        var publicKey = model.Secrets.PathOf("recovery-public.pem");
        if (!File.Exists(publicKey))
        {
            RecoveryKeyFiles.EnsureCreated(model.Secrets.PathOf("recovery-private.pem"), model.Secrets.PathOf("recovery-passphrase"), publicKey);
        }

        return project.WithEnvironment(environmentName, publicKey);
    }
}
