using Pii.EtlWorker.Apis;
using Pii.EtlWorker.Etl;
using Pii.EtlWorker.Extensions;

var command = EtlCommandLine.Parse(args);
var builder = WebApplication.CreateBuilder(command.HostArguments);
builder.AddServiceDefaults();
builder.AddDefaultOpenApi();
builder.AddApplicationServices(command);

var app = builder.Build();
if (command.Once)
{
    return await app.RunOnceAsync(command);
}

app.MapDefaultEndpoints();
app.MapDefaultOpenApi();
app.MapSuppressionApi();
await app.RunAsync();
return 0;

public partial class Program;
