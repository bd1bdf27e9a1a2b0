using System.Globalization;

namespace Pii.Crypto.Kdf;

/// <summary>Which password-based key derivation function a stored value used.</summary>
public enum PasswordKdfAlgorithm
{
    /// <summary>PBKDF2 with HMAC-SHA256 (RFC 8018), from the base library.</summary>
    Pbkdf2Sha256 = 1,

    /// <summary>Argon2id version 0x13 (RFC 9106), memory-hard.</summary>
    Argon2id = 2,
}

/// <summary>
/// The cost of a password-based derivation. Stored beside every output (see <see cref="PasswordHash"/> and
/// <see cref="ProtectedKeyFile"/>), so the defaults can rise later while older values still verify.
/// </summary>
/// <remarks>
/// Text form (the parameter part of a PHC string): <c>$pbkdf2-sha256$i=ITERATIONS</c> or
/// <c>$argon2id$v=19$m=MEMORY_KIB,t=ITERATIONS,p=LANES</c>. Bounds are checked on every parse, so a stored value
/// cannot make a verifier spend unbounded time or memory.
/// </remarks>
public sealed record PasswordKdfParameters
{
    public const int MaxPbkdf2Iterations = 10_000_000;
    public const int MaxArgon2MemoryKiB = 1 << 20;
    public const int MaxArgon2Iterations = 64;
    public const int MaxArgon2Parallelism = 16;
    private const int Argon2Version = 0x13;

    private PasswordKdfParameters(PasswordKdfAlgorithm algorithm, int iterations, int memoryKiB, int parallelism)
    {
        Algorithm = algorithm;
        Iterations = iterations;
        MemoryKiB = memoryKiB;
        Parallelism = parallelism;
    }

    /// <summary>
    /// PBKDF2-HMAC-SHA256 with 600,000 iterations (OWASP's 2023 figure): 160-250 ms on this project's 2-core
    /// machines (bench/RESULTS.md, "Password-based key derivation").
    /// </summary>
    public static PasswordKdfParameters DefaultPbkdf2 { get; } = Pbkdf2(600_000);

    /// <summary>
    /// Argon2id with 64 MiB, 2 passes, 1 lane: inside the 50-200 ms the issue asks for on this project's machines
    /// (bench/RESULTS.md), with memory cost well above RFC 9106's second recommended option.
    /// </summary>
    public static PasswordKdfParameters DefaultArgon2id { get; } = Argon2id(memoryKiB: 65_536, iterations: 2, parallelism: 1);

    public PasswordKdfAlgorithm Algorithm { get; }

    /// <summary>PBKDF2 iterations, or Argon2id passes (t).</summary>
    public int Iterations { get; }

    /// <summary>Argon2id memory in KiB (m); 0 for PBKDF2.</summary>
    public int MemoryKiB { get; }

    /// <summary>Argon2id lanes (p); 0 for PBKDF2.</summary>
    public int Parallelism { get; }

    public static PasswordKdfParameters Pbkdf2(int iterations)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(iterations, MaxPbkdf2Iterations);
        return new PasswordKdfParameters(PasswordKdfAlgorithm.Pbkdf2Sha256, iterations, 0, 0);
    }

    public static PasswordKdfParameters Argon2id(int memoryKiB, int iterations, int parallelism)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parallelism, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(parallelism, MaxArgon2Parallelism);
        // RFC 9106 section 3.1: m ≥ 8p.
        ArgumentOutOfRangeException.ThrowIfLessThan(memoryKiB, 8 * parallelism);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(memoryKiB, MaxArgon2MemoryKiB);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(iterations, MaxArgon2Iterations);
        return new PasswordKdfParameters(PasswordKdfAlgorithm.Argon2id, iterations, memoryKiB, parallelism);
    }

    /// <summary>The text form (type remarks), e.g. <c>$argon2id$v=19$m=65536,t=2,p=1</c>.</summary>
    public override string ToString() => Algorithm == PasswordKdfAlgorithm.Pbkdf2Sha256
        ? string.Create(CultureInfo.InvariantCulture, $"$pbkdf2-sha256$i={Iterations}")
        : string.Create(CultureInfo.InvariantCulture, $"$argon2id$v={Argon2Version}$m={MemoryKiB},t={Iterations},p={Parallelism}");

    /// <summary>Parses the parameter fields of a PHC string; <paramref name="fields"/> are the '$'-separated parts after the algorithm id.</summary>
    /// <returns>The parameters and how many fields they took.</returns>
    internal static (PasswordKdfParameters Parameters, int FieldsUsed) Parse(string algorithmId, ReadOnlySpan<string> fields)
    {
        try
        {
            switch (algorithmId)
            {
                case "pbkdf2-sha256":
                    {
                        Dictionary<string, int> values = ParseValues(fields, 0, ["i"]);
                        return (Pbkdf2(values["i"]), 1);
                    }
                case "argon2id":
                    {
                        if (fields.Length < 2 || fields[0] != "v=19")
                        {
                            throw new UnsupportedVersionException("Only Argon2 version 19 (0x13) is read.");
                        }
                        Dictionary<string, int> values = ParseValues(fields, 1, ["m", "t", "p"]);
                        return (Argon2id(values["m"], values["t"], values["p"]), 2);
                    }
                default:
                    throw new UnsupportedVersionException("The password KDF is not one this build reads (pbkdf2-sha256, argon2id).");
            }
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new MalformedInputException("The stored password-KDF parameters are out of bounds.");
        }
    }

    private static Dictionary<string, int> ParseValues(ReadOnlySpan<string> fields, int index, string[] names)
    {
        if (fields.Length <= index)
        {
            throw new MalformedInputException("The password-KDF parameters are missing.");
        }
        string[] pairs = fields[index].Split(',');
        if (pairs.Length != names.Length)
        {
            throw new MalformedInputException("The password-KDF parameters are not the expected list.");
        }
        var values = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int k = 0; k < names.Length; k++)
        {
            string prefix = names[k] + "=";
            if (!pairs[k].StartsWith(prefix, StringComparison.Ordinal)
                || !int.TryParse(pairs[k].AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int value)
                || pairs[k].Length > prefix.Length + 1 && pairs[k][prefix.Length] == '0')
            {
                throw new MalformedInputException("The password-KDF parameters are not the expected list.");
            }
            values[names[k]] = value;
        }
        return values;
    }
}
