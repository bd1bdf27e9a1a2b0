using MySql.Data.MySqlClient;
using Pii.ServiceDefaults.Data;
using Pii.Services.Shared;

namespace Pii.FormApi.Extensions;

internal static class Extensions
{
    /// <summary>The MySQL connection (ConnectionStrings:dnc, this instance's own user) and the key service client.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        MySqlCharsetShim.Apply();
        var connectionString = builder.Configuration.GetConnectionString("dnc")
            ?? throw new InvalidOperationException("ConnectionStrings:dnc is not set.");
        builder.Services.AddKeyServiceClient(builder.Configuration);
        builder.Services.AddHealthChecks()
            .AddDatabaseCheck("mysql", () => new MySqlConnection(connectionString))
            .AddKeyServiceCheck();
    }
}
