using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Pii.Crypto.Keys;

/// <summary>
/// The offline recovery key pair of backups (and documents): RSA-3072, the private key stored only as encrypted
/// PKCS#8 PEM (PBESv2: PBKDF2-HMAC-SHA256 + AES-256-CBC, the iteration count tuned so one derivation costs about
/// <see cref="TargetDerivationTime"/>), its passphrase in a file of its own, the public key as SubjectPublicKeyInfo PEM.
/// An operator moves the private key and the passphrase offline (two places) once they exist.
/// </summary>
public static class RecoveryKeyFiles
{
    public const int KeySizeBits = 3072;

    /// <summary>What one passphrase derivation should cost: slow enough to bound guessing, quick enough to use.</summary>
    public static readonly TimeSpan TargetDerivationTime = TimeSpan.FromMilliseconds(100);

    /// <summary>Bounds on the tuned count: never weak on a slow probe, never seconds per recovery on a fast one.</summary>
    public const int MinIterations = 100_000;
    public const int MaxIterations = 10_000_000;

    /// <summary>
    /// Creates the three files unless the private key file already exists (then nothing is touched): the private key
    /// and passphrase files are created with mode 0600. Returns whether a key pair was created.
    /// </summary>
    public static bool EnsureCreated(string privateKeyFile, string passphraseFile, string publicKeyFile)
    {
        if (File.Exists(privateKeyFile)) return false;
        var passphrase = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        using var rsa = RSA.Create(KeySizeBits);
        var parameters = new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, TuneIterations(TargetDerivationTime));
        WriteSecret(passphraseFile, passphrase + "\n");
        WriteSecret(privateKeyFile, rsa.ExportEncryptedPkcs8PrivateKeyPem(passphrase.AsSpan(), parameters));
        File.WriteAllText(publicKeyFile, rsa.ExportSubjectPublicKeyInfoPem());
        return true;
    }

    /// <summary>Reads the passphrase file (first line, surrounding white space ignored).</summary>
    public static string ReadPassphrase(string passphraseFile)
    {
        var text = File.ReadAllText(passphraseFile);
        var line = text.Split('\n', 2)[0].Trim();
        return line.Length > 0 ? line : throw new MalformedInputException("The passphrase file is empty.");
    }

    /// <summary>
    /// Decrypts an encrypted PKCS#8 PEM private key. A wrong passphrase (or a damaged file) is a
    /// <see cref="TamperedException"/>; an unencrypted PKCS#8 key is accepted only when no passphrase is given.
    /// </summary>
    public static RSA LoadPrivateKey(string pem, string? passphrase)
    {
        var rsa = RSA.Create();
        try
        {
            if (passphrase is null)
            {
                rsa.ImportFromPem(pem);
            }
            else
            {
                rsa.ImportFromEncryptedPem(pem, passphrase);
            }
            return rsa;
        }
        catch (CryptographicException)
        {
            rsa.Dispose();
            throw new TamperedException("The recovery private key could not be opened: wrong passphrase or damaged key file.");
        }
        catch (ArgumentException)
        {
            rsa.Dispose();
            throw new MalformedInputException("The recovery private key file holds no PKCS#8 private key PEM.");
        }
    }

    /// <summary>PBKDF2-HMAC-SHA256 iterations that take about <paramref name="target"/> on this machine, clamped.</summary>
    public static int TuneIterations(TimeSpan target)
    {
        const int probe = 100_000;
        var salt = RandomNumberGenerator.GetBytes(16);
        var password = Encoding.UTF8.GetBytes("calibration");
        // The fastest of three probes: a busy machine must not lower the cost an attacker pays on a quiet one.
        var best = TimeSpan.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            var watch = Stopwatch.StartNew();
            Rfc2898DeriveBytes.Pbkdf2(password, salt, probe, HashAlgorithmName.SHA256, 32);
            if (watch.Elapsed < best) best = watch.Elapsed;
        }
        var iterations = (long)(probe * (target.TotalMilliseconds / Math.Max(best.TotalMilliseconds, 0.001)));
        return (int)Math.Clamp(iterations, MinIterations, MaxIterations);
    }

    private static void WriteSecret(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream, new UTF8Encoding(false));
        writer.Write(content);
    }
}
