using Pii.Kms.Hosting;

// The key service: a Vault-Transit-compatible HTTP API. Flags as Vault's: -dev, -dev-root-token-id=, -dev-listen-address=, -config=.
var commandLine = KmsSettings.CommandLine.Parse(args);
var builder = WebApplication.CreateBuilder(commandLine.Rest);
builder.AddServiceDefaults();
builder.AddKms(commandLine);

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapKms();
app.Run();

public partial class Program;
