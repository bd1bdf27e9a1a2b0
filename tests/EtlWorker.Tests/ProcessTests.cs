using MySqlConnector;
using Npgsql;

namespace Pii.EtlWorker.Tests;

/// <summary>The worker binary itself: the --once demo output, and kill -9 crash safety.</summary>
[Collection(EtlServers.Name)]
public sealed class ProcessTests(EtlFixture fixture) : IAsyncLifetime
{
    private readonly SourceWriter _source = new(fixture.SourceAdminConnectionString);

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Once_print_masks_unless_reveal_and_plain_once_prints_no_rows()
    {
        using var key = await fixture.CreateDekAsync();
        var contact = TestContact.Next() with { FirstName = "Zelda", MiddleName = "Q", LastName = "Quux" };
        await _source.InsertAsync(key, [contact]);

        var plain = await WorkerProcess.RunAsync(fixture, "--once");
        Assert.Equal(0, plain.ExitCode);
        Assert.Contains("etl: 1 read, 1 loaded, 0 quarantined, 0 erasures applied", plain.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(contact.Id.ToString(), plain.Output, StringComparison.Ordinal);

        await RewindAsync();
        var masked = await WorkerProcess.RunAsync(fixture, "--once", "--print");
        Assert.Equal(0, masked.ExitCode);
        var line = Assert.Single(masked.Output.Split('\n'), l => l.Contains(contact.Id.ToString(), StringComparison.Ordinal));
        Assert.Contains($"Z*** Q*** Q***  {contact.Phone[..2]}******{contact.Phone[^4..]}  a***@example.com  phone_dnc=True email_dnc=False", line, StringComparison.Ordinal);
        foreach (var secret in new[] { "Zelda", "Quux", contact.Phone, contact.Email })
        {
            Assert.DoesNotContain(secret, masked.Output + masked.Error, StringComparison.Ordinal);
        }

        await RewindAsync();
        var revealed = await WorkerProcess.RunAsync(fixture, "--once", "--print", "--reveal");
        Assert.Equal(0, revealed.ExitCode);
        Assert.Contains($"Zelda Q Quux  {contact.Phone}  {contact.Email}", revealed.Output, StringComparison.Ordinal);

        var misuse = await WorkerProcess.RunAsync(fixture, "--reveal");
        Assert.NotEqual(0, misuse.ExitCode);
    }

    [Fact]
    public async Task Kill_9_during_large_batches_then_restart_gives_exactly_the_expected_list()
    {
        using var key = await fixture.CreateDekAsync();
        // Enough rows that a run outlasts several kills even on a quiet machine (the worker loads ~20,000 rows/s there).
        var contacts = Enumerable.Range(0, 60_000).Select(i => TestContact.Next(phoneDnc: i % 3 == 0, emailDnc: i % 5 == 0)).ToList();
        await _source.InsertAsync(key, contacts);
        var environment = new[] { ("Etl__BatchSize", "4000"), ("Etl__PollInterval", "00:00:00.200") };

        var kills = 0;
        long seen = 0;
        for (var round = 0; round < 4; round++)
        {
            using var worker = WorkerProcess.Start(fixture, environment);
            var sourceRows = (await SourceFlagsAsync()).Count;
            var progressed = await WaitForEntriesAsync(worker, more: seen, complete: sourceRows, TimeSpan.FromSeconds(90));
            if (progressed >= sourceRows) break;
            // Somewhere inside the next batch's read / decrypt / index / commit.
            await Task.Delay(Random.Shared.Next(0, 200));
            worker.KillHard();
            kills++;
            seen = await CountAsync("SELECT count(*) FROM suppression.entries");
            if (round == 0)
            {
                // Changes arrive between crashes too: flag toggles, erasures, new rows.
                foreach (var c in contacts.Take(50)) await _source.UpdateFlagsAsync(c.Id, !c.PhoneDnc, true);
                foreach (var c in contacts.Skip(50).Take(50)) await _source.EraseAsync(c.Id);
                await _source.InsertAsync(key, [.. Enumerable.Range(0, 500).Select(_ => TestContact.Next())]);
            }
        }

        Assert.True(kills >= 2, $"only {kills} kills landed before the worker finished");
        var final = await WorkerProcess.RunAsync(fixture, "--once");
        Assert.Equal(0, final.ExitCode);

        var expected = await SourceFlagsAsync();
        var actual = await Target.EntriesAsync(fixture);
        Assert.Equal(actual.Count, actual.Select(e => e.SourceId).Distinct().Count());
        Assert.Equal(expected.Count, actual.Count);
        foreach (var entry in actual)
        {
            Assert.Equal(expected[entry.SourceId], (entry.PhoneDnc, entry.EmailDnc, entry.RowVersion));
        }

        Assert.Empty(await Target.QuarantineAsync(fixture));
    }

    /// <summary>
    /// Waits until the list has more than <paramref name="more"/> entries, or all <paramref name="complete"/> source
    /// rows (a kill may land after the last batch committed, and then no further progress is possible).
    /// </summary>
    private async Task<long> WaitForEntriesAsync(WorkerProcess worker, long more, long complete, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var count = await CountAsync("SELECT count(*) FROM suppression.entries");
                if (count > more || count >= complete) return count;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                // The worker has not run its migrations yet.
            }

            await Task.Delay(20);
        }

        throw new TimeoutException($"The worker made no progress.{Environment.NewLine}{worker.StandardOutput}{worker.StandardError}");
    }

    private async Task<long> CountAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(fixture.TargetAdminConnectionString);
        await connection.OpenAsync();
        return (long)(await new NpgsqlCommand(sql, connection).ExecuteScalarAsync())!;
    }

    private async Task<Dictionary<Guid, (bool, bool, int)>> SourceFlagsAsync()
    {
        await using var connection = new MySqlConnection(fixture.SourceAdminConnectionString);
        await connection.OpenAsync();
        await using var reader = await new MySqlCommand("SELECT id, phone_dnc, email_dnc, row_version FROM dnc_preferences", connection).ExecuteReaderAsync();
        var rows = new Dictionary<Guid, (bool, bool, int)>();
        while (await reader.ReadAsync())
        {
            rows[new Guid((byte[])reader[0], bigEndian: true)] = (reader.GetBoolean(1), reader.GetBoolean(2), reader.GetInt32(3));
        }

        return rows;
    }

    private async Task RewindAsync()
    {
        await using var connection = new NpgsqlConnection(fixture.TargetAdminConnectionString);
        await connection.OpenAsync();
        await new NpgsqlCommand("UPDATE suppression.watermarks SET position_at = '1000-01-01Z', position_id = '00000000-0000-0000-0000-000000000000'", connection).ExecuteNonQueryAsync();
    }
}
