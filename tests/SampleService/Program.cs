using Pii.SampleService;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.Services.AddHttpClient<PeerClient>(client => client.BaseAddress = new Uri("https+http://peer"));
if (builder.Configuration.GetSection("services:peer").Exists())
{
    // A readiness check that leaves the process, as the services' database and key-service checks do.
    builder.Services.AddHealthChecks().AddCheck<PeerHealthCheck>("peer");
}

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapSampleApi();
app.Run();
