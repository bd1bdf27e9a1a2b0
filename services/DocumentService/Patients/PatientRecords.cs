using System.Globalization;
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

internal sealed record PatientSearch(string? Mrn, string? Name, string? Ssn, string? SsnLastFour, string? Diagnosis);

/// <summary>
/// Patients in <c>documents.patients</c>. Tiers (declared in <see cref="Schema"/>): MRN tier 2 deterministic with an
/// empty record id; full name, date of birth, address and diagnosis codes tier 2 randomized; SSN tier 3 (application
/// key inside, DEK outside). Blind indexes: MRN (exact search and the unique index), full name, SSN, SSN last four,
/// each diagnosis code.
/// </summary>
/// <remarks>
/// The MRN ciphertext is deterministic only under one DEK: once the patients DEK is replaced by policy the same MRN
/// encrypts differently, so search and uniqueness use the blind index <c>mrn_index</c> (keyed by the index root key,
/// which does not rotate with the DEKs), never the ciphertext.
/// </remarks>
internal sealed partial class PatientRecords(NpgsqlDataSource database, TieredFieldProtector protector, DocumentKeys keys, TimeProvider time)
{
    public const string Purpose = "patients";
    public const string SsnMask = "***-**-****";

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
        if (string.IsNullOrWhiteSpace(patient.FullName) || patient.FullName.Length > 200 || patient.FullName.Any(char.IsControl))
        {
            errors["fullName"] = ["Full name: 1-200 characters, no control characters."];
        }
        if (patient.DateOfBirth is not null && (!DateOnly.TryParseExact(patient.DateOfBirth, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var born)
            || born.Year < 1800 || born > DateOnly.FromDateTime(DateTime.UtcNow)))
        {
            errors["dateOfBirth"] = ["Date of birth: yyyy-MM-dd, not in the future."];
        }
        if (patient.Address is not null && (patient.Address.Length > 500 || patient.Address.Any(c => char.IsControl(c) && c != '\n')))
        {
            errors["address"] = ["Address: at most 500 characters."];
        }
        if (patient.Ssn is not null)
        {
            try
            {
                Normalizer.Ssn(patient.Ssn);
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
            mrn = await ProtectAsync(FieldMode.Deterministic, "mrn", "", mrn, cancellationToken),
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
        };
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO documents.patients (id, mrn, mrn_index, full_name, full_name_index, date_of_birth, address, ssn, ssn_index, ssn_last4_index, diagnosis_codes, created_at) "
                + "VALUES (@id, @mrn, @mrnIndex, @fullName, @fullNameIndex, @dateOfBirth, @address, @ssn, @ssnIndex, @ssnLast4Index, @diagnosisCodes, @createdAt)",
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
            "SELECT id AS Id, mrn AS Mrn, full_name AS FullName, date_of_birth AS DateOfBirth, address AS Address, ssn AS Ssn, diagnosis_codes AS DiagnosisCodes, created_at AS CreatedAt "
            + "FROM documents.patients WHERE id = @id", new { id }, cancellationToken: cancellationToken));
        if (row is null) return null;
        var record = id.ToString();
        var codes = await UnprotectAsync(row.DiagnosisCodes, "diagnosis_codes", record, cancellationToken);
        string? ssn = null;
        if (row.Ssn is not null)
        {
            ssn = revealSsn ? FormatSsn(await UnprotectAsync(row.Ssn, "ssn", record, cancellationToken)) : SsnMask;
        }
        return new PatientView(id,
            (await UnprotectAsync(row.Mrn, "mrn", "", cancellationToken))!,
            (await UnprotectAsync(row.FullName, "full_name", record, cancellationToken))!,
            await UnprotectAsync(row.DateOfBirth, "date_of_birth", record, cancellationToken),
            await UnprotectAsync(row.Address, "address", record, cancellationToken),
            ssn, revealSsn && row.Ssn is not null,
            codes is null ? [] : JsonSerializer.Deserialize<List<string>>(codes) ?? [],
            DateTime.SpecifyKind(row.CreatedAt, DateTimeKind.Utc));
    }

    /// <summary>Every given criterion must match (AND); at most <paramref name="limit"/> results.</summary>
    public async Task<IReadOnlyList<PatientSummary>> SearchAsync(PatientSearch search, int limit, CancellationToken cancellationToken)
    {
        var index = await keys.GetIndexKeysAsync(cancellationToken);
        var sql = new StringBuilder("SELECT id AS Id, mrn AS Mrn, full_name AS FullName FROM documents.patients p WHERE TRUE");
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
        foreach (var row in rows)
        {
            results.Add(new PatientSummary(row.Id,
                (await UnprotectAsync(row.Mrn, "mrn", "", cancellationToken))!,
                (await UnprotectAsync(row.FullName, "full_name", row.Id.ToString(), cancellationToken))!));
        }
        return results;
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
                "SELECT id AS Id, mrn AS Mrn FROM documents.patients WHERE mrn_index IS NULL AND id > @after ORDER BY id LIMIT @batchSize",
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
                    mrnIndex = index.Mrn.Compute(NormalizeMrn((await UnprotectAsync(row.Mrn, "mrn", "", cancellationToken))!));
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

    private sealed record PatientRow(Guid Id, byte[] Mrn, byte[] FullName, byte[]? DateOfBirth, byte[]? Address, byte[]? Ssn, byte[]? DiagnosisCodes, DateTime CreatedAt);

    private sealed record SummaryRow(Guid Id, byte[] Mrn, byte[] FullName);

    private sealed record MrnRow(Guid Id, byte[] Mrn);
}
