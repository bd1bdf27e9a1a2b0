using Pii.FormApi.Apis;
using Pii.FormApi.Extensions;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddDefaultOpenApi();
builder.AddApplicationServices();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapDefaultOpenApi();
app.MapStatusApi();
app.MapFormApi();
app.Run();

public partial class Program;
