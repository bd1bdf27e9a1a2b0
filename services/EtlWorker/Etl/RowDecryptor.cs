using Pii.Crypto;
using Pii.Crypto.Fields;
using Pii.Crypto.Keys;

namespace Pii.EtlWorker.Etl;

/// <summary>A row's decrypted contact details: phone and email in index normal form; names only when printing.</summary>
public sealed record DecryptedContact(string Phone, string Email, string? FirstName, string? MiddleName, string? LastName);

/// <summary>What became of one source row: its contact details, or why it goes to quarantine.</summary>
public sealed record DecryptOutcome(SourceRow Row, DecryptedContact? Contact, string? QuarantineReason);

/// <summary>
/// Decrypts a batch of rows: reads the DEK id from each ciphertext header (the authenticated one), leases every DEK
/// the batch needs through the <see cref="DekManager"/> (bounded cache; misses unwrapped together in one batch call),
/// then decrypts phone and email. A row that fails for a reason of its own — unknown or destroyed DEK, wrapped DEK or
/// field that does not authenticate, malformed ciphertext, a value that does not normalize — gets a quarantine reason;
/// failures of the key service itself (unreachable, forbidden) propagate so nothing is quarantined by mistake.
/// </summary>
public sealed class RowDecryptor(DekManager deks, BatchUnwrapKek kek, SourceDekStore store)
{
    public async Task<IReadOnlyList<DecryptOutcome>> DecryptAsync(IReadOnlyList<SourceRow> rows, bool includeNames, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var dekIds = new Dictionary<SourceRow, int[]>();
        var outcomes = new DecryptOutcome?[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            try
            {
                dekIds[rows[i]] = [.. Fields(rows[i], includeNames).Select(f => FieldCipher.ReadHeader(f.Ciphertext).DekId).Distinct()];
            }
            catch (CryptoException e)
            {
                outcomes[i] = new DecryptOutcome(rows[i], null, Reason(e));
            }
        }

        var leases = await LeaseAsync([.. dekIds.Values.SelectMany(ids => ids).Distinct()], cancellationToken).ConfigureAwait(false);
        try
        {
            for (var i = 0; i < rows.Count; i++)
            {
                outcomes[i] ??= Decrypt(rows[i], dekIds[rows[i]], leases, includeNames);
            }
        }
        finally
        {
            foreach (var lease in leases.Values)
            {
                lease.Lease?.Dispose();
            }
        }

        return outcomes!;
    }

    private static DecryptOutcome Decrypt(SourceRow row, int[] ids, Dictionary<int, (FieldKeyLease? Lease, CryptoException? Error)> leases, bool includeNames)
    {
        foreach (var id in ids)
        {
            if (leases[id].Error is { } error)
            {
                return new DecryptOutcome(row, null, "dek_" + Reason(error));
            }
        }

        try
        {
            string Field(string column, byte[]? ciphertext) => ciphertext is null
                ? ""
                : FieldCipher.DecryptString(leases[FieldCipher.ReadHeader(ciphertext).DekId].Lease!.Key, ciphertext, new FieldContext(SourceRow.Table, column, row.RecordId))!;

            var phone = Field("phone", row.Phone);
            var email = Field("email", row.Email);
            string normalizedPhone;
            string normalizedEmail;
            try
            {
                normalizedPhone = SuppressionIndexer.Normalize(ContactKind.Phone, phone);
            }
            catch (MalformedInputException)
            {
                return new DecryptOutcome(row, null, "phone_not_e164");
            }

            try
            {
                normalizedEmail = SuppressionIndexer.Normalize(ContactKind.Email, email);
            }
            catch (MalformedInputException)
            {
                return new DecryptOutcome(row, null, "email_invalid");
            }

            return new DecryptOutcome(row, includeNames
                ? new DecryptedContact(normalizedPhone, normalizedEmail, Field("first_name", row.FirstName), row.MiddleName is null ? null : Field("middle_name", row.MiddleName), Field("last_name", row.LastName))
                : new DecryptedContact(normalizedPhone, normalizedEmail, null, null, null), null);
        }
        catch (CryptoException e)
        {
            return new DecryptOutcome(row, null, Reason(e));
        }
    }

    private static IEnumerable<(string Column, byte[] Ciphertext)> Fields(SourceRow row, bool includeNames)
    {
        yield return ("phone", row.Phone);
        yield return ("email", row.Email);
        if (includeNames)
        {
            yield return ("first_name", row.FirstName);
            if (row.MiddleName is not null)
            {
                yield return ("middle_name", row.MiddleName);
            }

            yield return ("last_name", row.LastName);
        }
    }

    private static string Reason(CryptoException e) => e switch
    {
        UnknownKeyException => "unknown_key",
        TamperedException => "tampered",
        UnsupportedVersionException => "unsupported_version",
        TruncatedException => "truncated",
        _ => "malformed",
    };

    private async Task<Dictionary<int, (FieldKeyLease? Lease, CryptoException? Error)>> LeaseAsync(IReadOnlyCollection<int> ids, CancellationToken cancellationToken)
    {
        await store.PreloadAsync(ids, cancellationToken).ConfigureAwait(false);
        kek.BeginBatch();
        var pending = ids.Select(id => (Id: id, Task: deks.LeaseKeyAsync(id, cancellationToken).AsTask())).ToList();
        Exception? failure = null;
        try
        {
            await kek.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not CryptoException)
        {
            failure = e;
        }

        // Every lease is awaited, so none stays acquired if the batch fails as a whole.
        var leases = new Dictionary<int, (FieldKeyLease?, CryptoException?)>();
        foreach (var (id, task) in pending)
        {
            try
            {
                leases[id] = (await task.ConfigureAwait(false), null);
            }
            catch (CryptoException e)
            {
                leases[id] = (null, e);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                failure ??= e;
            }
        }

        if (failure is not null)
        {
            foreach (var (lease, _) in leases.Values)
            {
                lease?.Dispose();
            }

            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        return leases;
    }
}
