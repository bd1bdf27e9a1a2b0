using Dapper;
using Microsoft.Extensions.Options;
using Pii.FormApi.Apis;

namespace Pii.FormApi.Data;

/// <summary>Back office start-up: applies the migrations before the server accepts requests (IHostedService.StartAsync blocks start).</summary>
internal sealed class SchemaMigrator(DncDatabase database, IOptions<FormApiOptions> options, ILogger<SchemaMigrator> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        int ran = await Migrations.ApplyAsync(connection, cancellationToken);
        if (options.Value.BenchPlaintextPeer)
        {
            await connection.ExecuteAsync(new CommandDefinition(BenchPeerApi.CreateTable, cancellationToken: cancellationToken));
        }
        Log.SchemaReady(logger, Migrations.LatestVersion, ran);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
