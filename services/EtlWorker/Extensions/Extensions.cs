using MySql.Data.MySqlClient;
using Npgsql;
using Pii.ServiceDefaults.Data;
using Pii.Services.Shared;

namespace Pii.EtlWorker.Extensions;

internal static class Extensions
{
    /// <summary>Its source (ConnectionStrings:dnc, read-only), its target (ConnectionStrings:analytics), the key service.</summary>
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        MySqlCharsetShim.Apply();
        var dnc = builder.Configuration.GetConnectionString("dnc") ?? throw new InvalidOperationException("ConnectionStrings:dnc is not set.");
        var analytics = builder.Configuration.GetConnectionString("analytics") ?? throw new InvalidOperationException("ConnectionStrings:analytics is not set.");
        builder.Services.AddKeyServiceClient(builder.Configuration);
        builder.Services.AddHealthChecks()
            .AddDatabaseCheck("mysql", () => new MySqlConnection(dnc))
            .AddDatabaseCheck("postgres", () => new NpgsqlConnection(analytics))
            .AddKeyServiceCheck();
    }
}
