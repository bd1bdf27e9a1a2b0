using Pii.SampleService;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.Services.AddHttpClient<PeerClient>(client => client.BaseAddress = new Uri("https+http://peer"));

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapSampleApi();
app.Run();
