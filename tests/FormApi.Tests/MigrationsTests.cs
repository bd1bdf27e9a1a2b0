extern alias formapi;

using Dapper;
using MySqlConnector;
using Masking = formapi::Pii.FormApi.Domain.Masking;
using Migrations = formapi::Pii.FormApi.Data.Migrations;

namespace Pii.FormApi.Tests;

[Collection(FormApiGroup.Name)]
public sealed class MigrationsTests(FormApiFixture fixture)
{
    [Fact]
    public async Task Two_instances_migrating_an_empty_database_together_apply_each_version_once()
    {
        var database = "dnc_migrations_" + Guid.NewGuid().ToString("N")[..8];
        var connectionString = new MySqlConnectionStringBuilder(fixture.MariaDb.Resource.AdminConnectionString) { Database = database }.ConnectionString;
        await using (var admin = new MySqlConnection(fixture.MariaDb.Resource.AdminConnectionString))
        {
            await admin.OpenAsync();
            await admin.ExecuteAsync($"CREATE DATABASE `{database}`");
        }
        try
        {
            await using var first = new MySqlConnection(connectionString);
            await using var second = new MySqlConnection(connectionString);
            await first.OpenAsync();
            await second.OpenAsync();
            var ran = await Task.WhenAll(Migrations.ApplyAsync(first, CancellationToken.None), Migrations.ApplyAsync(second, CancellationToken.None));
            Assert.Equal(Migrations.All.Count, ran.Sum());
            Assert.Contains(0, ran);

            var versions = (await first.QueryAsync<int>("SELECT version FROM schema_migrations ORDER BY version")).ToList();
            Assert.Equal(Migrations.All.Select(m => m.Version), versions);
            var tables = (await first.QueryAsync<string>("SHOW TABLES")).ToHashSet();
            Assert.Superset(new HashSet<string> { "dnc_preferences", "encryption_keys", "dnc_erasures", "pii_access_log", "dek_reencryption_jobs", "schema_migrations" }, tables);
            Assert.Equal(0, await Migrations.ApplyAsync(first, CancellationToken.None));
        }
        finally
        {
            await using var admin = new MySqlConnection(fixture.MariaDb.Resource.AdminConnectionString);
            await admin.OpenAsync();
            await admin.ExecuteAsync($"DROP DATABASE `{database}`");
        }
    }

    [Theory]
    [InlineData("Alice", "A***")]
    [InlineData("Émile", "É***")]
    [InlineData("👩‍⚕️Zoe", "👩‍⚕️***")]
    public void Names_mask_to_their_first_character(string name, string masked) => Assert.Equal(masked, Masking.Name(name));

    [Theory]
    [InlineData("+15551234567", "+1******4567")]
    [InlineData("+447946000000", "+4*******0000")]
    public void Phones_keep_the_first_digit_and_the_last_four(string phone, string masked) => Assert.Equal(masked, Masking.Phone(phone));

    [Fact]
    public void Emails_keep_the_first_character_and_the_domain() => Assert.Equal("a***@example.com", Masking.Email("alice@example.com"));
}
