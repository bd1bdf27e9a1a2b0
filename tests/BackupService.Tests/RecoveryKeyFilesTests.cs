using System.Diagnostics;
using System.Security.Cryptography;
using Pii.Crypto;
using Pii.Crypto.Keys;

namespace Pii.BackupService.Tests;

/// <summary>The recovery key files the AppHost creates on first start: standard encrypted PKCS#8, tuned PBKDF2, 0600 secrets.</summary>
public sealed class RecoveryKeyFilesTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("pii-recovery-keys-").FullName;

    private string Private => Path.Combine(_directory, "secrets", "recovery-private.pem");
    private string Passphrase => Path.Combine(_directory, "secrets", "recovery-passphrase");
    private string Public => Path.Combine(_directory, "recovery-public.pem");

    [Fact]
    public void Creates_once_an_encrypted_PKCS8_key_that_opens_with_its_passphrase_only_and_matches_the_public_key()
    {
        Assert.True(RecoveryKeyFiles.EnsureCreated(Private, Passphrase, Public));
        var pem = File.ReadAllText(Private);
        Assert.StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----", pem, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Private));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Passphrase));
        Assert.False(RecoveryKeyFiles.EnsureCreated(Private, Passphrase, Public));
        Assert.Equal(pem, File.ReadAllText(Private));

        using var rsa = RecoveryKeyFiles.LoadPrivateKey(pem, RecoveryKeyFiles.ReadPassphrase(Passphrase));
        Assert.Equal(RecoveryKeyFiles.KeySizeBits, rsa.KeySize);
        using var published = RSA.Create();
        published.ImportFromPem(File.ReadAllText(Public));
        Assert.Equal(published.ExportRSAPublicKey(), rsa.ExportRSAPublicKey());
        Assert.Throws<TamperedException>(() => RecoveryKeyFiles.LoadPrivateKey(pem, "wrong passphrase").Dispose());
    }

    [Fact]
    public void An_independent_implementation_opens_the_key_and_it_uses_PBKDF2_SHA256_with_the_tuned_iteration_count()
    {
        RecoveryKeyFiles.EnsureCreated(Private, Passphrase, Public);
        // python3 `cryptography` (OpenSSL) reads the PBES2 parameters and decrypts with the passphrase.
        var script = """
            import sys
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa
            key = serialization.load_pem_private_key(open(sys.argv[1], 'rb').read(), password=open(sys.argv[2], 'rb').read().split(b'\n')[0].strip())
            pub = serialization.load_pem_public_key(open(sys.argv[3], 'rb').read())
            print(key.public_key().public_numbers() == pub.public_numbers())
            """;
        var start = new ProcessStartInfo("python3", ["-c", script, Private, Passphrase, Public]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var python = Process.Start(start)!;
        var output = python.StandardOutput.ReadToEnd();
        var errors = python.StandardError.ReadToEnd();
        python.WaitForExit();
        Assert.True(python.ExitCode == 0, errors);
        Assert.Equal("True", output.Trim());

        // The PBES2 parameters as written: PBKDF2 with HMAC-SHA256 and an iteration count inside the tuning bounds.
        var der = PemEncoding.Find(File.ReadAllText(Private)) is var fields ? Convert.FromBase64String(File.ReadAllText(Private)[fields.Base64Data]) : [];
        var info = new System.Formats.Asn1.AsnReader(der, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
        var algorithm = info.ReadSequence();
        Assert.Equal("1.2.840.113549.1.5.13", algorithm.ReadObjectIdentifier());
        var pbes2 = algorithm.ReadSequence();
        var kdf = pbes2.ReadSequence();
        Assert.Equal("1.2.840.113549.1.5.12", kdf.ReadObjectIdentifier());
        var pbkdf2 = kdf.ReadSequence();
        pbkdf2.ReadOctetString();
        var iterations = (int)pbkdf2.ReadInteger();
        Assert.InRange(iterations, RecoveryKeyFiles.MinIterations, RecoveryKeyFiles.MaxIterations);
        Assert.Equal("1.2.840.113549.2.9", pbkdf2.ReadSequence().ReadObjectIdentifier());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
