using Pii.DocumentService;
using Pii.DocumentService.Audit;
using Pii.DocumentService.Documents;
using Pii.DocumentService.Extensions;
using Pii.DocumentService.Patients;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddDefaultOpenApi();
builder.AddApplicationServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.UseSecurityHeaders();
app.MapDefaultOpenApi();
app.UseDefaultFiles();
app.UseStaticFiles();
app.UseAuthentication();
app.UseAuthorization();
app.MapPatientsApi();
app.MapDocumentsApi();
app.MapAuditApi();
app.Run();

public partial class Program;
