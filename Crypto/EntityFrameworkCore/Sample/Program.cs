using Pii.EntityFrameworkCore.Sample;

var builder = WebApplication.CreateBuilder(args);
builder.AddShop();
builder.Services.AddProblemDetails();

var app = builder.Build();
await app.PrepareShopAsync();
app.MapCustomersApi();
await app.RunAsync();
