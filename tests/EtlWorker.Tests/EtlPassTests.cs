using Npgsql;
using Pii.EtlWorker.Etl;

namespace Pii.EtlWorker.Tests;

[Collection(EtlServers.Name)]
public sealed class EtlPassTests(EtlFixture fixture) : IAsyncLifetime
{
    private readonly SourceWriter _source = new(fixture.SourceAdminConnectionString);

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Passes_are_incremental_and_store_key_service_indexes_not_plaintext()
    {
        using var key = await fixture.CreateDekAsync();
        var first = Enumerable.Range(0, 5).Select(_ => TestContact.Next()).ToList();
        await _source.InsertAsync(key, first);
        await using var worker = new WorkerFactory(fixture, ("Etl:BatchSize", "2"));
        await worker.Store.MigrateAsync(default);

        var pass1 = await worker.Pass.RunAsync(null, default);
        Assert.Equal(new PassResult(5, 5, 0, 0), pass1);

        var second = Enumerable.Range(0, 3).Select(_ => TestContact.Next(phoneDnc: false, emailDnc: true)).ToList();
        await _source.InsertAsync(key, second);
        Assert.Equal(new PassResult(3, 3, 0, 0), await worker.Pass.RunAsync(null, default));
        Assert.Equal(new PassResult(0, 0, 0, 0), await worker.Pass.RunAsync(null, default));

        var entries = (await Target.EntriesAsync(fixture)).ToDictionary(e => e.SourceId);
        Assert.Equal(8, entries.Count);
        foreach (var contact in first.Concat(second))
        {
            var entry = entries[contact.Id];
            Assert.Equal(await fixture.ExpectedIndexAsync("phone:" + contact.Phone), entry.PhoneIndex);
            Assert.Equal(await fixture.ExpectedIndexAsync("email:" + contact.Email), entry.EmailIndex);
            Assert.Equal((contact.PhoneDnc, contact.EmailDnc), (entry.PhoneDnc, entry.EmailDnc));
        }

        var last = second.OrderBy(c => c.Id).Last();
        Assert.Equal(last.Id, (await Target.WatermarkAsync(fixture, "preferences")).Id);
        await AssertNoPlaintextInSuppressionSchemaAsync(first.Concat(second));
    }

    [Fact]
    public async Task Flag_changes_and_erasures_flow_through()
    {
        using var key = await fixture.CreateDekAsync();
        var contacts = Enumerable.Range(0, 4).Select(_ => TestContact.Next(phoneDnc: false, emailDnc: false)).ToList();
        await _source.InsertAsync(key, contacts);
        await using var worker = new WorkerFactory(fixture);
        await worker.Store.MigrateAsync(default);
        await worker.Pass.RunAsync(null, default);

        await _source.UpdateFlagsAsync(contacts[0].Id, phoneDnc: true, emailDnc: true);
        await _source.EraseAsync(contacts[1].Id);
        await _source.UpdateFlagsAsync(contacts[2].Id, phoneDnc: true, emailDnc: false);
        await _source.EraseAsync(contacts[2].Id);
        var result = await worker.Pass.RunAsync(null, default);

        Assert.Equal(2, result.Erased);
        var entries = (await Target.EntriesAsync(fixture)).ToDictionary(e => e.SourceId);
        Assert.Equal(new[] { contacts[0].Id, contacts[3].Id }.Order(), entries.Keys.Order());
        Assert.True(entries[contacts[0].Id].PhoneDnc);
        Assert.True(entries[contacts[0].Id].EmailDnc);
        Assert.Equal(2, entries[contacts[0].Id].RowVersion);
        Assert.False(entries[contacts[3].Id].PhoneDnc);
    }

    [Fact]
    public async Task Tampered_rows_unknown_and_damaged_deks_are_quarantined_and_the_pass_continues()
    {
        using var key = await fixture.CreateDekAsync();
        using var damagedDek = await fixture.CreateDekAsync();
        await _source.ExecuteAsync($"UPDATE encryption_keys SET wrapped_dek = CONCAT(LEFT(wrapped_dek, LENGTH(wrapped_dek) - 4), 'AAA=') WHERE id = {damagedDek.DekId}");
        using var unknown = Pii.Crypto.Fields.FieldKey.FromDek(9_999, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var good = Enumerable.Range(0, 3).Select(_ => TestContact.Next()).ToList();
        var tampered = TestContact.Next();
        var moved = TestContact.Next();
        var underUnknown = TestContact.Next();
        var underDamaged = TestContact.Next();
        var badPhone = TestContact.Next() with { Phone = "555-0100" };

        await _source.InsertAsync(key, [good[0]]);
        await _source.InsertAsync(key, [tampered], (c, column) =>
        {
            if (column != "phone") return null;
            var ciphertext = SourceWriter.Encrypt(key, column, c.Id, c.Phone);
            ciphertext[^1] ^= 0x01;
            return ciphertext;
        });
        // A valid ciphertext of another record's cell: the AAD (record id) no longer matches.
        await _source.InsertAsync(key, [moved], (c, column) => column == "email" ? SourceWriter.Encrypt(key, column, good[0].Id, c.Email) : null);
        await _source.InsertAsync(unknown, [underUnknown]);
        await _source.InsertAsync(damagedDek, [underDamaged]);
        await _source.InsertAsync(key, [badPhone]);
        await _source.InsertAsync(key, good.Skip(1).ToList());

        await using var worker = new WorkerFactory(fixture, ("Etl:BatchSize", "3"));
        await worker.Store.MigrateAsync(default);
        var result = await worker.Pass.RunAsync(null, default);

        Assert.Equal(new PassResult(8, 3, 5, 0), result);
        var quarantine = await Target.QuarantineAsync(fixture);
        Assert.Equal("tampered", quarantine[tampered.Id]);
        Assert.Equal("tampered", quarantine[moved.Id]);
        Assert.Equal("dek_unknown_key", quarantine[underUnknown.Id]);
        Assert.Equal("dek_tampered", quarantine[underDamaged.Id]);
        Assert.Equal("phone_not_e164", quarantine[badPhone.Id]);
        Assert.Equal(good.Select(c => c.Id).Order(), (await Target.EntriesAsync(fixture)).Select(e => e.SourceId).Order());
        // The last statement inserted good[1] and good[2] with one timestamp: the keyset order is then the id bytes.
        Assert.Equal(good.Skip(1).Select(c => c.Id).MaxBy(id => Convert.ToHexString(id.ToByteArray(bigEndian: true))), (await Target.WatermarkAsync(fixture, "preferences")).Id);

        // A fixed row leaves quarantine when it loads; an erased one leaves it too.
        await _source.ExecuteAsync($"UPDATE dnc_preferences SET phone = 0x00, updated_at = UTC_TIMESTAMP(6), row_version = 2 WHERE id = 0x{Convert.ToHexString(badPhone.Id.ToByteArray(bigEndian: true))}");
        await _source.EraseAsync(tampered.Id);
        await worker.Pass.RunAsync(null, default);
        quarantine = await Target.QuarantineAsync(fixture);
        Assert.False(quarantine.ContainsKey(tampered.Id));
        Assert.Equal("unsupported_version", quarantine[badPhone.Id]);
    }

    [Fact]
    public async Task Watermark_never_advances_without_its_upserts()
    {
        using var key = await fixture.CreateDekAsync();
        var contacts = Enumerable.Range(0, 10).Select(_ => TestContact.Next()).ToList();
        await _source.InsertAsync(key, contacts);
        await using var worker = new WorkerFactory(fixture, ("Etl:BatchSize", "10"));
        await worker.Store.MigrateAsync(default);
        var before = await Target.WatermarkAsync(fixture, "preferences");

        // A real fault in the middle of the batch transaction: the watermark update waits on a lock held by the
        // administrator, whose session then terminates the worker's backend before it can commit.
        await using var admin = new NpgsqlConnection(fixture.TargetAdminConnectionString);
        await admin.OpenAsync();
        await using var hold = await admin.BeginTransactionAsync();
        await new NpgsqlCommand("LOCK TABLE suppression.watermarks IN EXCLUSIVE MODE", admin, hold).ExecuteNonQueryAsync();
        var pass = worker.Pass.RunAsync(null, default);
        await using var observer = new NpgsqlConnection(fixture.TargetAdminConnectionString);
        await observer.OpenAsync();
        int? blocked = null;
        for (var i = 0; i < 200 && blocked is null; i++)
        {
            blocked = await new NpgsqlCommand(
                "SELECT pid FROM pg_stat_activity WHERE usename = 'etlworker' AND wait_event_type = 'Lock' AND query LIKE '%UPDATE suppression.watermarks%'", observer).ExecuteScalarAsync() as int?;
            if (blocked is null) await Task.Delay(50);
        }

        Assert.NotNull(blocked);
        var uncommitted = await new NpgsqlCommand("SELECT count(*) FROM suppression.entries", observer).ExecuteScalarAsync();
        Assert.Equal(0L, uncommitted);
        await new NpgsqlCommand($"SELECT pg_terminate_backend({blocked})", observer).ExecuteNonQueryAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => pass);
        await hold.RollbackAsync();

        Assert.Empty(await Target.EntriesAsync(fixture));
        Assert.Equal(before, await Target.WatermarkAsync(fixture, "preferences"));

        Assert.Equal(10, (await worker.Pass.RunAsync(null, default)).Loaded);
        Assert.Equal(10, (await Target.EntriesAsync(fixture)).Count);
    }

    private async Task AssertNoPlaintextInSuppressionSchemaAsync(IEnumerable<TestContact> contacts)
    {
        await using var connection = new NpgsqlConnection(fixture.TargetAdminConnectionString);
        await connection.OpenAsync();
        var dump = new System.Text.StringBuilder();
        foreach (var table in (string[])["entries", "quarantine", "watermarks", "index_key"])
        {
            await using var reader = await new NpgsqlCommand($"SELECT * FROM suppression.{table}", connection).ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    var value = reader.GetValue(i);
                    dump.Append(value is byte[] b ? System.Text.Encoding.Latin1.GetString(b) : value.ToString()).Append('|');
                }
            }
        }

        var text = dump.ToString();
        foreach (var contact in contacts)
        {
            Assert.DoesNotContain(contact.Phone[1..], text, StringComparison.Ordinal);
            Assert.DoesNotContain(contact.Email, text, StringComparison.OrdinalIgnoreCase);
        }
    }
}
