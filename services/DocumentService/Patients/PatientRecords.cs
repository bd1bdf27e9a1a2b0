using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;
using Pii.Crypto;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Fields;
using Pii.Crypto.Tiers;
using Pii.DocumentService.Keys;

namespace Pii.DocumentService.Patients;

internal sealed record NewPatient(string? Mrn, string? FullName, string? DateOfBirth, string? Address, string? Ssn, IReadOnlyList<string>? DiagnosisCodes);

/// <summary>A patient as returned: tier-3 SSN masked unless revealed.</summary>
internal sealed record PatientView(Guid Id, string Mrn, string FullName, string? DateOfBirth, string? Address, string? Ssn, bool SsnRevealed,
    IReadOnlyList<string> DiagnosisCodes, DateTime CreatedAt);

internal sealed record PatientSummary(Guid Id, string Mrn, string FullName);

/// <summary>Search results, and the ids of index hits left out because their record failed its integrity check.</summary>
internal sealed record PatientSearchResult(IReadOnlyList<PatientSummary> Patients, IReadOnlyList<Guid> IntegrityFailures);

internal sealed record PatientSearch(string? Mrn, string? Name, string? Ssn, string? SsnLastFour, string? Diagnosis);

/// <summary>
/// Patients in <c>documents.patients</c>. Tiers (declared in <see cref="Schema"/>): MRN tier 2 deterministic; full name,
/// date of birth, address and diagnosis codes tier 2 randomized; SSN tier 3 (application key inside, DEK outside). Every
/// ciphertext is bound to its record (the patient id in its associated data), so a ciphertext copied into another
/// patient fails to decrypt there. Blind indexes: MRN (exact search and the unique index), full name, SSN, SSN last
/// four, each diagnosis code; a search decrypts every hit and keeps it only when the decrypted values match the search
/// (an index value copied into another row finds that row, but it is not returned).
/// </summary>
/// <remarks>
/// The MRN ciphertext is deterministic only under one DEK: once the patients DEK is replaced by policy the same MRN
/// encrypts differently, so search and uniqueness use the blind index <c>mrn_index</c> (keyed by the index root key,
/// which does not rotate with the DEKs), never the ciphertext.
/// Binding versions (<c>field_binding</c>): 1 = rows stored before the MRN was bound to its record (MRN with an empty
/// record id); 2 = every field bound to its record. Start-up re-encrypts version-1 MRNs bound to their record
/// (<see cref="RebindMrnsAsync"/>); until then, or if that fails for a row, a version-1 MRN is accepted only when it
/// matches the row's unique MRN index, so it cannot have been copied from another patient.
/// </remarks>
internal sealed partial class PatientRecords(NpgsqlDataSource database, TieredFieldProtector protector, DocumentKeys keys, TimeProvider time)
{
    public const string Purpose = "patients";
    public const string SsnMask = "***-**-****";

    /// <summary>The binding version new rows are written with (see remarks).</summary>
    public const short CurrentBinding = 2;

    public static PiiSchema.Builder Declare(PiiSchema.Builder schema) => schema
        .PiiField("patients", "mrn", Tier.Two)
        .PiiField("patients", "full_name", Tier.Two)
        .PiiField("patients", "date_of_birth", Tier.Two)
        .PiiField("patients", "address", Tier.Two)
        .PiiField("patients", "ssn", Tier.Three)
        .PiiField("patients", "diagnosis_codes", Tier.Two);

    /// <summary>Field errors (name → messages) for a new patient; empty when valid.</summary>
    public static Dictionary<string, string[]> Validate(NewPatient patient)
    {
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (patient.Mrn is null || !MrnPattern().IsMatch(patient.Mrn)) errors["mrn"] = ["MRN: 1-32 letters, digits or '-'."];
        if (string.IsNullOrWhiteSpace(patient.FullName) || patient.FullName.Length > 200 || patient.FullName.Any(char.IsControl) || HasInvisibleFormatting(patient.FullName))
        {
            errors["fullName"] = ["Full name: 1-200 characters, no control characters, no invisible formatting (direction overrides, zero-width characters)."];
        }
        if (patient.DateOfBirth is not null && (!DateOnly.TryParseExact(patient.DateOfBirth, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var born)
            || born.Year < 1800 || born > DateOnly.FromDateTime(DateTime.UtcNow)))
        {
            errors["dateOfBirth"] = ["Date of birth: yyyy-MM-dd, not in the future."];
        }
        if (patient.Address is not null && (patient.Address.Length > 500 || patient.Address.Any(c => char.IsControl(c) && c != '\n') || HasInvisibleFormatting(patient.Address)))
        {
            errors["address"] = ["Address: at most 500 characters, no invisible formatting (direction overrides, zero-width characters)."];
        }
        if (patient.Ssn is not null)
        {
            try
            {
                if (!IsIssuableSsn(Normalizer.Ssn(patient.Ssn)))
                {
                    errors["ssn"] = ["SSN: not a number the SSA issues (area 000, 666 or 900-999, group 00 or serial 0000)."];
                }
            }
            catch (MalformedInputException)
            {
                errors["ssn"] = ["SSN: 9 digits (dashes and spaces allowed)."];
            }
        }
        if (patient.DiagnosisCodes is { } codes && (codes.Count > 50 || codes.Any(c => c is null || !DiagnosisPattern().IsMatch(c))))
        {
            errors["diagnosisCodes"] = ["Diagnosis codes: at most 50 ICD-10 codes such as E11.9."];
        }
        return errors;
    }

    public static bool IsValidDiagnosisCode(string code) => DiagnosisPattern().IsMatch(code);

    /// <summary>
    /// Unicode format characters (category Cf: right-to-left overrides and isolates, zero-width spaces and joiners,
    /// byte-order marks) make a stored value display differently from what it is, so names refuse them.
    /// </summary>
    public static bool HasInvisibleFormatting(string value) => value.Any(c => char.GetUnicodeCategory(c) == UnicodeCategory.Format);

    /// <summary>The SSA's rules for numbers it issues: area not 000, 666 or 9xx; group not 00; serial not 0000.</summary>
    public static bool IsIssuableSsn(string digits) =>
        digits[..3] is not ("000" or "666") && digits[0] != '9' && digits[3..5] != "00" && digits[5..] != "0000";

    public static bool IsValidLastFour(string digits) => digits.Length == 4 && digits.All(char.IsAsciiDigit);

    /// <summary>Stores a validated patient; returns null when the MRN already exists.</summary>
    public async Task<Guid?> CreateAsync(NewPatient patient, CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        var record = id.ToString();
        var index = await keys.GetIndexKeysAsync(cancellationToken);
        var mrn = NormalizeMrn(patient.Mrn!);
        var ssn = patient.Ssn is null ? null : Normalizer.Ssn(patient.Ssn);
        var codes = (patient.DiagnosisCodes ?? []).Select(c => c.Trim().ToUpperInvariant()).Distinct(StringComparer.Ordinal).ToList();
        var row = new
        {
            id,
            mrn = await ProtectAsync(FieldMode.Deterministic, "mrn", record, mrn, cancellationToken),
            mrnIndex = index.Mrn.Compute(mrn),
            fullName = await ProtectAsync(FieldMode.Randomized, "full_name", record, patient.FullName!.Trim(), cancellationToken),
            fullNameIndex = index.FullName.Compute(patient.FullName!),
            dateOfBirth = await ProtectAsync(FieldMode.Randomized, "date_of_birth", record, patient.DateOfBirth, cancellationToken),
            address = await ProtectAsync(FieldMode.Randomized, "address", record, patient.Address, cancellationToken),
            ssn = await ProtectAsync(FieldMode.Randomized, "ssn", record, ssn, cancellationToken),
            ssnIndex = ssn is null ? null : index.Ssn.Compute(ssn),
            ssnLast4Index = ssn is null ? null : index.SsnLastFour.Compute(ssn[5..]),
            diagnosisCodes = await ProtectAsync(FieldMode.Randomized, "diagnosis_codes", record, JsonSerializer.Serialize(codes), cancellationToken),
            createdAt = time.GetUtcNow().UtcDateTime,
            binding = CurrentBinding,
        };
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO documents.patients (id, mrn, mrn_index, full_name, full_name_index, date_of_birth, address, ssn, ssn_index, ssn_last4_index, diagnosis_codes, created_at, field_binding) "
                + "VALUES (@id, @mrn, @mrnIndex, @fullName, @fullNameIndex, @dateOfBirth, @address, @ssn, @ssnIndex, @ssnLast4Index, @diagnosisCodes, @createdAt, @binding)",
                row, transaction, cancellationToken: cancellationToken));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            return null;
        }
        foreach (var code in codes)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO documents.patient_diagnoses (patient_id, code_index) VALUES (@id, @codeIndex) ON CONFLICT DO NOTHING",
                new { id, codeIndex = index.DiagnosisCode.Compute(code) }, transaction, cancellationToken: cancellationToken));
        }
        await transaction.CommitAsync(cancellationToken);
        return id;
    }

    public async Task<bool> ExistsAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM documents.patients WHERE id = @id)", new { id }, cancellationToken: cancellationToken));
    }

    /// <summary>Reads and decrypts a patient; the SSN (tier 3) is decrypted only when <paramref name="revealSsn"/>.</summary>
    public async Task<PatientView?> GetAsync(Guid id, bool revealSsn, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<PatientRow>(new CommandDefinition(
            "SELECT id AS Id, mrn AS Mrn, mrn_index AS MrnIndex, field_binding AS Binding, full_name AS FullName, date_of_birth AS DateOfBirth, address AS Address, ssn AS Ssn, "
            + "diagnosis_codes AS DiagnosisCodes, created_at AS CreatedAt FROM documents.patients WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        if (row is null) return null;
        var record = id.ToString();
        var codes = await UnprotectAsync(row.DiagnosisCodes, "diagnosis_codes", record, cancellationToken);
        string? ssn = null;
        if (row.Ssn is not null)
        {
            ssn = revealSsn ? FormatSsn(await UnprotectAsync(row.Ssn, "ssn", record, cancellationToken)) : SsnMask;
        }
        return new PatientView(id,
            await UnprotectMrnAsync(id, row.Mrn, row.MrnIndex, row.Binding, cancellationToken),
            (await UnprotectAsync(row.FullName, "full_name", record, cancellationToken))!,
            await UnprotectAsync(row.DateOfBirth, "date_of_birth", record, cancellationToken),
            await UnprotectAsync(row.Address, "address", record, cancellationToken),
            ssn, revealSsn && row.Ssn is not null,
            codes is null ? [] : JsonSerializer.Deserialize<List<string>>(codes) ?? [],
            DateTime.SpecifyKind(row.CreatedAt, DateTimeKind.Utc));
    }

    /// <summary>
    /// Every given criterion must match (AND); at most <paramref name="limit"/> index hits. Each hit is decrypted and kept
    /// only when its values match every criterion; a hit that does not decrypt or does not match (an index value copied
    /// from another row) is left out and its id returned in <see cref="PatientSearchResult.IntegrityFailures"/>.
    /// </summary>
    public async Task<PatientSearchResult> SearchAsync(PatientSearch search, int limit, CancellationToken cancellationToken)
    {
        var index = await keys.GetIndexKeysAsync(cancellationToken);
        var sql = new StringBuilder("SELECT id AS Id, mrn AS Mrn, mrn_index AS MrnIndex, field_binding AS Binding, full_name AS FullName, ssn AS Ssn, "
            + "diagnosis_codes AS DiagnosisCodes FROM documents.patients p WHERE TRUE");
        var parameters = new DynamicParameters();
        if (search.Mrn is not null)
        {
            sql.Append(" AND mrn_index = @mrn");
            parameters.Add("mrn", index.Mrn.Compute(NormalizeMrn(search.Mrn)));
        }
        if (search.Name is not null)
        {
            sql.Append(" AND full_name_index = @name");
            parameters.Add("name", index.FullName.Compute(search.Name));
        }
        if (search.Ssn is not null)
        {
            sql.Append(" AND ssn_index = @ssn");
            parameters.Add("ssn", index.Ssn.Compute(search.Ssn));
        }
        if (search.SsnLastFour is not null)
        {
            sql.Append(" AND ssn_last4_index = @last4");
            parameters.Add("last4", index.SsnLastFour.Compute(search.SsnLastFour));
        }
        if (search.Diagnosis is not null)
        {
            sql.Append(" AND EXISTS (SELECT 1 FROM documents.patient_diagnoses d WHERE d.patient_id = p.id AND d.code_index = @code)");
            parameters.Add("code", index.DiagnosisCode.Compute(search.Diagnosis.Trim().ToUpperInvariant()));
        }
        sql.Append(" ORDER BY created_at DESC LIMIT @limit");
        parameters.Add("limit", limit);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<SummaryRow>(new CommandDefinition(sql.ToString(), parameters, cancellationToken: cancellationToken));
        var results = new List<PatientSummary>();
        var failures = new List<Guid>();
        foreach (var row in rows)
        {
            try
            {
                if (await ConfirmAsync(row, search, cancellationToken) is { } summary)
                {
                    results.Add(summary);
                    continue;
                }
            }
            catch (CryptoException)
            {
                // Reported below like a mismatch: the row is not this search's answer, and the rest still are.
            }
            failures.Add(row.Id);
        }
        return new PatientSearchResult(results, failures);
    }

    /// <summary>The hit's summary when its decrypted values satisfy every criterion of the search; null otherwise.</summary>
    private async Task<PatientSummary?> ConfirmAsync(SummaryRow row, PatientSearch search, CancellationToken cancellationToken)
    {
        var record = row.Id.ToString();
        var mrn = await UnprotectMrnAsync(row.Id, row.Mrn, row.MrnIndex, row.Binding, cancellationToken);
        var fullName = (await UnprotectAsync(row.FullName, "full_name", record, cancellationToken))!;
        if (search.Mrn is not null && !string.Equals(NormalizeMrn(search.Mrn), mrn, StringComparison.Ordinal)) return null;
        if (search.Name is not null && !string.Equals(Normalizer.Name(search.Name), Normalizer.Name(fullName), StringComparison.Ordinal)) return null;
        if (search.Ssn is not null || search.SsnLastFour is not null)
        {
            var ssn = await UnprotectAsync(row.Ssn, "ssn", record, cancellationToken);
            if (ssn is null) return null;
            if (search.Ssn is not null && !string.Equals(Normalizer.Ssn(search.Ssn), ssn, StringComparison.Ordinal)) return null;
            if (search.SsnLastFour is not null && !string.Equals(search.SsnLastFour, ssn[5..], StringComparison.Ordinal)) return null;
        }
        if (search.Diagnosis is not null)
        {
            var codes = await UnprotectAsync(row.DiagnosisCodes, "diagnosis_codes", record, cancellationToken);
            var wanted = search.Diagnosis.Trim().ToUpperInvariant();
            if (codes is null || !(JsonSerializer.Deserialize<List<string>>(codes) ?? []).Contains(wanted, StringComparer.Ordinal)) return null;
        }
        return new PatientSummary(row.Id, mrn, fullName);
    }

    /// <summary>Deletes the patient row (diagnosis index rows cascade). Documents must be erased first.</summary>
    public async Task<bool> DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition("DELETE FROM documents.patients WHERE id = @id", new { id }, cancellationToken: cancellationToken)) == 1;
    }

    /// <summary>
    /// Start-up backfill for rows stored before <c>mrn_index</c> existed: decrypts each such row's MRN (any DEK, retired
    /// ones included) and sets its index, <paramref name="batchSize"/> rows per query, walking the ids in order so a row
    /// left without an index is not fetched again. A row is left without an index (never changed or deleted) when
    /// another row already holds the same MRN (stored twice under two DEKs before this index existed) or its MRN does
    /// not decrypt. Returns those rows' ids, for the operator.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> BackfillMrnIndexAsync(int batchSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var unindexed = new List<Guid>();
        var after = Guid.Empty;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        while (true)
        {
            var rows = (await connection.QueryAsync<MrnRow>(new CommandDefinition(
                "SELECT id AS Id, mrn AS Mrn, field_binding AS Binding FROM documents.patients WHERE mrn_index IS NULL AND id > @after ORDER BY id LIMIT @batchSize",
                new { after, batchSize }, cancellationToken: cancellationToken))).AsList();
            if (rows.Count == 0) return unindexed;
            // Only now: a database without such rows starts without asking the key service for the index root key.
            var index = await keys.GetIndexKeysAsync(cancellationToken);
            foreach (var row in rows)
            {
                after = row.Id;
                byte[] mrnIndex;
                try
                {
                    mrnIndex = index.Mrn.Compute(NormalizeMrn((await UnprotectAsync(row.Mrn, "mrn", MrnRecord(row.Id, row.Binding), cancellationToken))!));
                }
                catch (CryptoException)
                {
                    unindexed.Add(row.Id);
                    continue;
                }
                try
                {
                    await connection.ExecuteAsync(new CommandDefinition(
                        "UPDATE documents.patients SET mrn_index = @mrnIndex WHERE id = @Id AND mrn_index IS NULL",
                        new { row.Id, mrnIndex }, cancellationToken: cancellationToken));
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation)
                {
                    unindexed.Add(row.Id);
                }
            }
        }
    }

    /// <summary>
    /// Start-up migration of binding version 1: re-encrypts each such row's MRN bound to its record, when the MRN
    /// decrypts and matches the row's unique MRN index, <paramref name="batchSize"/> rows per query. The update is
    /// guarded by the old ciphertext, so a concurrent change wins. Returns the ids of rows left at version 1 (their MRN
    /// does not decrypt or does not match the index: they read as integrity failures), for the operator.
    /// </summary>
    public async Task<IReadOnlyList<Guid>> RebindMrnsAsync(int batchSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var failed = new List<Guid>();
        var after = Guid.Empty;
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        while (true)
        {
            var rows = (await connection.QueryAsync<LegacyMrnRow>(new CommandDefinition(
                "SELECT id AS Id, mrn AS Mrn, mrn_index AS MrnIndex FROM documents.patients WHERE field_binding < @binding AND mrn_index IS NOT NULL AND id > @after ORDER BY id LIMIT @batchSize",
                new { binding = CurrentBinding, after, batchSize }, cancellationToken: cancellationToken))).AsList();
            if (rows.Count == 0) return failed;
            foreach (var row in rows)
            {
                after = row.Id;
                byte[] bound;
                try
                {
                    var mrn = await UnprotectMrnAsync(row.Id, row.Mrn, row.MrnIndex, 1, cancellationToken);
                    bound = (await ProtectAsync(FieldMode.Deterministic, "mrn", row.Id.ToString(), mrn, cancellationToken))!;
                }
                catch (CryptoException)
                {
                    failed.Add(row.Id);
                    continue;
                }
                await connection.ExecuteAsync(new CommandDefinition(
                    "UPDATE documents.patients SET mrn = @bound, field_binding = @binding WHERE id = @Id AND mrn = @Mrn AND field_binding < @binding",
                    new { bound, binding = CurrentBinding, row.Id, row.Mrn }, cancellationToken: cancellationToken));
            }
        }
    }

    /// <summary>
    /// Decrypts the MRN under the row's binding version. Version 1 (not bound to the record) is accepted only when it
    /// matches the row's MRN index: that index is unique, so the MRN cannot be another patient's copied here. A version-1
    /// row without an index (one the MRN-index upgrade could not index, reported at start) reads as before; such rows
    /// exist only while the upgrade is incomplete, after which the index column is NOT NULL.
    /// </summary>
    private async Task<string> UnprotectMrnAsync(Guid id, byte[] stored, byte[]? mrnIndex, short binding, CancellationToken cancellationToken)
    {
        var mrn = (await UnprotectAsync(stored, "mrn", MrnRecord(id, binding), cancellationToken))!;
        if (binding >= CurrentBinding || mrnIndex is null) return mrn;
        var index = await keys.GetIndexKeysAsync(cancellationToken);
        if (!CryptographicOperations.FixedTimeEquals(index.Mrn.Compute(NormalizeMrn(mrn)), mrnIndex))
        {
            throw new TamperedException("An unbound MRN does not match its row's MRN index.");
        }
        return mrn;
    }

    private static string MrnRecord(Guid id, short binding) => binding >= CurrentBinding ? id.ToString() : "";

    /// <summary>The MRN as stored and indexed: trimmed, upper case (the pattern allows only ASCII letters, digits and '-').</summary>
    private static string NormalizeMrn(string mrn) => mrn.Trim().ToUpperInvariant();

    private Task<byte[]?> ProtectAsync(FieldMode mode, string column, string record, string? value, CancellationToken cancellationToken) =>
        protector.ProtectAsync(Purpose, mode, value is null ? null : Encoding.UTF8.GetBytes(value), new FieldContext("patients", column, record), cancellationToken);

    private async Task<string?> UnprotectAsync(byte[]? stored, string column, string record, CancellationToken cancellationToken) =>
        await protector.UnprotectAsync(stored, new FieldContext("patients", column, record), cancellationToken) is { } plain ? Encoding.UTF8.GetString(plain) : null;

    private static string? FormatSsn(string? digits) => digits is { Length: 9 } ? $"{digits[..3]}-{digits[3..5]}-{digits[5..]}" : digits;

    [GeneratedRegex("^[A-Za-z0-9-]{1,32}$")]
    private static partial Regex MrnPattern();

    [GeneratedRegex(@"^\s*[A-Za-z][0-9][0-9A-Za-z](\.[0-9A-Za-z]{1,4})?\s*$")]
    private static partial Regex DiagnosisPattern();

    private sealed record PatientRow(Guid Id, byte[] Mrn, byte[]? MrnIndex, short Binding, byte[] FullName, byte[]? DateOfBirth, byte[]? Address, byte[]? Ssn,
        byte[]? DiagnosisCodes, DateTime CreatedAt);

    private sealed record SummaryRow(Guid Id, byte[] Mrn, byte[]? MrnIndex, short Binding, byte[] FullName, byte[]? Ssn, byte[]? DiagnosisCodes);

    private sealed record MrnRow(Guid Id, byte[] Mrn, short Binding);

    private sealed record LegacyMrnRow(Guid Id, byte[] Mrn, byte[] MrnIndex);
}
