using Pii.AppHost;
using Pii.AppHost.Hosting;

// The system at a glance: infrastructure first, then the services with their identities, references and waits.
using var host = AppHostRunner.Parse(args);
var model = host.TryCreateModel();
if (model is null) return 1;

var vault = model.AddKeyService("vault").AddTransitKey("dnc").AddTransitKey("documents").AddTransitKey("backups").AddTransitKey("suppression-index");
var postgres = model.AddPostgres("postgres");
var records = postgres.AddDatabase("records");
var analytics = postgres.AddDatabase("analytics");
var mysql = model.AddMariaDb("mysql");
var dnc = mysql.AddDatabase("dnc");
var s3 = model.AddS3rver("s3");
var documents = s3.AddBucket("documents");
var backups = s3.AddBucket("backups");

var backoffice = model.AddFormApi("formapi-backoffice", FormApiInstance.Backoffice)
    .WithReference(dnc.AddUser("dnc_backoffice", MySqlAccess.Owner))
    .WithReference(vault.AddToken("formapi-backoffice", "dnc-backoffice"))
    .WithApiKeys(host.ApiKeys, "agent", "supervisor", "auditor", "admin")
    .WaitFor(dnc).WaitFor(vault);

// The back office owns the schema migrations; the intake (INSERT on its two tables only) starts once they ran.
model.AddFormApi("formapi", FormApiInstance.Intake)
    .WithReference(dnc.AddFormApiIntakeUser(backoffice, "dnc_intake"))
    .WithReference(vault.AddToken("formapi", "dnc-intake"))
    .WaitFor(dnc).WaitFor(vault).WaitFor(backoffice);

model.AddService("documentservice", "services/DocumentService/DocumentService.csproj")
    .WithReference(records.AddUser("documentservice", new PostgresAccess.SchemaOwner("documents")))
    .WithReference(documents)
    .WithReference(vault.AddToken("documentservice", "documents"))
    .WithApiKeys(host.ApiKeys, "clinician", "records-admin", "auditor")
    .WithGeneratedKeyFile(model, "DocumentService__ApplicationKeyFile", "documentservice-application-key")
    .WithRecoveryPublicKey(model, "DocumentService__RecoveryPublicKeyFile")
    .WaitFor(records).WaitFor(documents.Resource).WaitFor(vault);

model.AddService("etlworker", "services/EtlWorker/EtlWorker.csproj")
    .WithReference(dnc.AddUser("dnc_etl", MySqlAccess.ReadOnly))
    .WithReference(analytics.AddUser("etlworker", new PostgresAccess.SchemaOwner("suppression")))
    .WithReference(vault.AddToken("etlworker", "etl"))
    .WithApiKeys(host.ApiKeys, "dialer")
    .WaitFor(dnc).WaitFor(analytics).WaitFor(vault).WaitFor(backoffice);

model.AddService("backupservice", "services/BackupService/BackupService.csproj")
    .WithReference(records.AddUser("backupservice", new PostgresAccess.ReadAll()))
    .WithReference(analytics.AddUser("backupservice", new PostgresAccess.ReadAll()))
    .WithReference(dnc.AddUser("dnc_backup", MySqlAccess.Backup))
    .WithReference(backups)
    .WithReference(vault.AddToken("backupservice", "backups"))
    .WithApiKeys(host.ApiKeys, "operator")
    .WithRecoveryPublicKey(model, "BackupService__RecoveryPublicKeyFile")
    .WithGeneratedKeyFile(model, "BackupService__ManifestKeyFile", "backup-manifest-key")
    .WaitFor(records).WaitFor(analytics).WaitFor(dnc).WaitFor(backups.Resource).WaitFor(vault);

return await host.RunAsync(model);
