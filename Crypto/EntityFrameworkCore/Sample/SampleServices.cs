using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Pii.Crypto.Pkcs11;

namespace Pii.EntityFrameworkCore.Sample;

public static class SampleServices
{
    /// <summary>
    /// The database from <c>ConnectionStrings:shop</c>; the KEK from <c>PII_LOCAL_KEK</c>, or a key on an HSM by the
    /// <c>PII_LOCAL_KEK_PKCS11_*</c> settings (<see cref="ConfiguredKek"/>; production may use the key service's
    /// <c>TransitKek</c>); the tier-3 application key from <c>Shop:ApplicationKey</c> (base64).
    /// </summary>
    public static IHostApplicationBuilder AddShop(this IHostApplicationBuilder builder)
    {
        string connectionString = builder.Configuration.GetConnectionString("shop")
            ?? throw new InvalidOperationException("Set ConnectionStrings__shop to a PostgreSQL connection string.");
        string applicationKey = builder.Configuration["Shop:ApplicationKey"]
            ?? throw new InvalidOperationException("Set Shop__ApplicationKey to 32 random bytes in base64 (openssl rand -base64 32).");
        byte[] key = Convert.FromBase64String(applicationKey);
        try
        {
            var encryption = new PiiEncryption(new PiiEncryptionOptions
            {
                KeyEncryptionKey = ConfiguredKek.Open("shop", setting => builder.Configuration[setting]),
                KeyStore = options => options.UseNpgsql(connectionString),
                ApplicationKey = key,
            });
            builder.Services.AddSingleton(encryption);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
        builder.Services.AddDbContext<ShopContext>((services, options) =>
            options.UseNpgsql(connectionString).UsePiiEncryption(services.GetRequiredService<PiiEncryption>()));
        return builder;
    }

    /// <summary>Creates the tables (a sample; an application would use migrations) and loads the blind-index key.</summary>
    public static async Task PrepareShopAsync(this WebApplication app)
    {
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<ShopContext>().Database.EnsureCreatedAsync();
        }
        await app.Services.GetRequiredService<PiiEncryption>().InitializeAsync();
    }
}
