using System.Security.Cryptography;
using Pii.AppHost.Hosting;
using Pii.Crypto.Keys;

namespace Pii.AppHost;

public static class ServiceComposition
{
    /// <summary>
    /// A service project on a fixed port (README's URLs; <c>PiiAspire:Ports:&lt;name&gt;</c> overrides), unproxied, healthy
    /// when its <c>/health</c> answers 200.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AddService<TProject>(this IDistributedApplicationBuilder builder, string name, int port)
        where TProject : IProjectMetadata, new()
    {
        var listenPort = LocalState.Of(builder).PortFor(name, port);
        return builder.AddProject<TProject>(name, launchProfileName: null)
            .WithHttpEndpoint(port: listenPort, targetPort: listenPort, isProxied: false)
            .WithHttpHealthCheck("/health")
            .WithProjectDefaults();
    }

    /// <summary>
    /// The intake's MariaDB user: no privilege until <paramref name="backoffice"/> (which migrates the schema) is ready,
    /// then exactly <see cref="ServiceGrants.FormApiIntake"/>.
    /// </summary>
    public static IResourceBuilder<MariaDbLoginResource> AddFormApiIntakeUser(this IResourceBuilder<MariaDbDatabaseResource> dnc, IResourceBuilder<ProjectResource> backoffice, string user)
    {
        var login = dnc.AddUser(user, MySqlAccess.InsertOnly);
        backoffice.OnResourceReady((_, _, ct) => dnc.Resource.GrantAsync(user, ServiceGrants.FormApiIntake, ct));
        return login;
    }

    /// <summary>
    /// A 32-byte key that only this service holds (e.g. the tier-3 application key the key service must never see):
    /// generated once into the secrets folder (0600) and passed as a file path, so the key itself is in no environment.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithGeneratedKeyFile(this IResourceBuilder<ProjectResource> project, string environmentName, string secretName)
    {
        var secrets = LocalState.Of(project.ApplicationBuilder).Secrets;
        secrets.GetOrCreate(secretName, () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        return project.WithEnvironment(environmentName, secrets.PathOf(secretName));
    }

    /// <summary>
    /// The offline recovery key pair every backup (and document) is also wrapped for: made once, on the first start that
    /// finds no public key, as <c>recovery-private.pem</c> (encrypted PKCS#8) with <c>recovery-passphrase</c> beside it
    /// (both 0600) and <c>recovery-public.pem</c>. The operator moves the first two offline; the public key alone keeps
    /// serving, so a moved private key is never replaced by a new pair.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithRecoveryPublicKey(this IResourceBuilder<ProjectResource> project, string environmentName)
    {
        var secrets = LocalState.Of(project.ApplicationBuilder).Secrets;
        var publicKey = secrets.PathOf("recovery-public.pem");
        if (!File.Exists(publicKey))
        {
            RecoveryKeyFiles.EnsureCreated(secrets.PathOf("recovery-private.pem"), secrets.PathOf("recovery-passphrase"), publicKey);
        }
        return project.WithEnvironment(environmentName, publicKey);
    }
}
