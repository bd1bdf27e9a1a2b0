using Pii.AppHost;
using Pii.AppHost.Hosting;

// The system at a glance: infrastructure first, then the services with their identities, references and waits.
var builder = DistributedApplication.CreateBuilder(args);

var vault = builder.AddKeyService("vault").AddTransitKey("dnc").AddTransitKey("documents").AddTransitKey("backups").AddTransitKey("suppression-index");
var postgres = builder.AddPostgres("postgres");
var records = postgres.AddDatabase("records");
var analytics = postgres.AddDatabase("analytics");
var mysql = builder.AddMariaDb("mysql");
var dnc = mysql.AddDatabase("dnc");
var s3 = builder.AddS3rver("s3");
var documents = s3.AddBucket("documents");
var backups = s3.AddBucket("backups");

var backoffice = builder.AddService<Projects.FormApi>("formapi-backoffice", 5081)
    .WithEnvironment("FormApi__Instance", "backoffice")
    .WithReference(dnc.AddUser("dnc_backoffice", MySqlAccess.Owner))
    .WithReference(vault.AddToken("formapi-backoffice", "dnc-backoffice"))
    .WithApiKeys("agent", "supervisor", "auditor", "admin")
    .WaitFor(dnc).WaitFor(vault);

// The back office owns the schema migrations; the intake (INSERT on its two tables only) starts once they ran.
builder.AddService<Projects.FormApi>("formapi", 5080)
    .WithEnvironment("FormApi__Instance", "intake")
    .WithReference(dnc.AddFormApiIntakeUser(backoffice, "dnc_intake"))
    .WithReference(vault.AddToken("formapi", "dnc-intake"))
    .WaitFor(dnc).WaitFor(vault).WaitFor(backoffice);

builder.AddService<Projects.DocumentService>("documentservice", 5082)
    .WithReference(records.AddUser("documentservice", new PostgresAccess.SchemaOwner("documents")))
    .WithReference(documents)
    .WithReference(vault.AddToken("documentservice", "documents"))
    .WithApiKeys("clinician", "records-admin", "auditor")
    .WithGeneratedKeyFile("DocumentService__ApplicationKeyFile", "documentservice-application-key")
    .WithRecoveryPublicKey("DocumentService__RecoveryPublicKeyFile")
    .WaitFor(records).WaitFor(documents).WaitFor(vault);

builder.AddService<Projects.EtlWorker>("etlworker", 5083)
    .WithReference(dnc.AddUser("dnc_etl", MySqlAccess.ReadOnly))
    .WithReference(analytics.AddUser("etlworker", new PostgresAccess.SchemaOwner("suppression")))
    .WithReference(vault.AddToken("etlworker", "etl"))
    .WithApiKeys("dialer")
    .WaitFor(dnc).WaitFor(analytics).WaitFor(vault).WaitFor(backoffice);

builder.AddService<Projects.BackupService>("backupservice", 5084)
    .WithReference(records.AddUser("backupservice", new PostgresAccess.ReadAll()))
    .WithReference(analytics.AddUser("backupservice", new PostgresAccess.ReadAll()))
    .WithReference(dnc.AddUser("dnc_backup", MySqlAccess.Backup))
    .WithReference(backups)
    // Restores create databases and replace every object in place: the servers' administrators, for this service only.
    .WithReference(postgres, "restore-postgres")
    .WithReference(mysql, "restore-mariadb")
    .WithReference(vault.AddToken("backupservice", "backups"))
    .WithApiKeys("operator")
    .WithRecoveryPublicKey("BackupService__RecoveryPublicKeyFile")
    .WithGeneratedKeyFile("BackupService__ManifestKeyFile", "backup-manifest-key")
    .WaitFor(records).WaitFor(analytics).WaitFor(dnc).WaitFor(backups).WaitFor(vault);

builder.Build().Run();
