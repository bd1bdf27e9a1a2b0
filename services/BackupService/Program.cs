using Pii.BackupService.Apis;
using Pii.BackupService.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddDefaultOpenApi();
builder.AddApplicationServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.UseAuthentication();
app.UseAuthorization();
app.MapDefaultOpenApi();
app.MapBackupsApi();
app.Run();

public partial class Program;
