using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Pii.Crypto.Kdf;

namespace Pii.Crypto.Tests.Kdf;

public class ProtectedKeyFileTests
{
    private static readonly PasswordKdfParameters FastArgon2 = PasswordKdfParameters.Argon2id(memoryKiB: 1024, iterations: 1, parallelism: 1);
    private static readonly byte[] Passphrase = "tr0ub4dor &3 correct horse"u8.ToArray();

    public static TheoryData<int> PythonFiles()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < KdfVectors.Section("protected_key_file").Length; i++)
        {
            data.Add(i);
        }
        return data;
    }

    /// <summary>Files sealed by kdf.py from the documented layout (python3 cryptography's Argon2id/PBKDF2HMAC + AESGCM).</summary>
    [Theory]
    [MemberData(nameof(PythonFiles))]
    public void Opens_files_made_by_an_independent_implementation(int index)
    {
        JsonElement v = KdfVectors.Section("protected_key_file")[index];
        byte[] file = Encoding.ASCII.GetBytes(v.GetProperty("file").GetString()!);
        byte[] passphrase = Encoding.UTF8.GetBytes(v.GetProperty("passphrase").GetString()!);
        Assert.Equal(v.GetProperty("payload").GetString(), Convert.ToHexStringLower(ProtectedKeyFile.Unprotect(file, passphrase)));
        Assert.Throws<TamperedException>(() => ProtectedKeyFile.Unprotect(file, "wrong"u8));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(32)]
    [InlineData(2000)]
    public void Round_trips_under_both_kdfs(int payloadLength)
    {
        byte[] payload = RandomNumberGenerator.GetBytes(payloadLength);
        foreach (PasswordKdfParameters parameters in new[] { FastArgon2, PasswordKdfParameters.Pbkdf2(1000) })
        {
            byte[] file = ProtectedKeyFile.Protect(payload, Passphrase, parameters);
            string[] lines = Encoding.ASCII.GetString(file).Split('\n');
            Assert.Equal(4, lines.Length);
            Assert.Equal(ProtectedKeyFile.Magic, lines[0]);
            Assert.StartsWith(parameters + "$", lines[1], StringComparison.Ordinal);
            Assert.Equal("", lines[3]);
            Assert.Equal(parameters, ProtectedKeyFile.ReadParameters(file));
            Assert.Equal(payload, ProtectedKeyFile.Unprotect(file, Passphrase));
            Assert.NotEqual(file, ProtectedKeyFile.Protect(payload, Passphrase, parameters));
        }
    }

    [Fact]
    public void Default_parameters_protect_and_open()
    {
        byte[] key = RandomNumberGenerator.GetBytes(32);
        byte[] file = ProtectedKeyFile.Protect(key, Passphrase, PasswordKdfParameters.DefaultArgon2id);
        Assert.Equal(key, ProtectedKeyFile.Unprotect(file, Passphrase));
    }

    [Fact]
    public void Wrong_passphrase_is_refused()
    {
        byte[] file = ProtectedKeyFile.Protect(new byte[32], Passphrase, FastArgon2);
        var e = Assert.Throws<TamperedException>(() => ProtectedKeyFile.Unprotect(file, "tr0ub4dor &3 correct horsf"u8));
        Assert.Contains("passphrase is wrong", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("m=1024,t=1,p=1", "m=1024,t=2,p=1")]   // a parameter changed: binds via the AAD, and derives another key
    [InlineData("m=1024,t=1,p=1", "m=2048,t=1,p=1")]
    public void Altered_parameters_are_refused(string from, string to)
    {
        string file = Encoding.ASCII.GetString(ProtectedKeyFile.Protect(new byte[32], Passphrase, FastArgon2));
        Assert.Throws<TamperedException>(() => ProtectedKeyFile.Unprotect(Encoding.ASCII.GetBytes(file.Replace(from, to, StringComparison.Ordinal)), Passphrase));
    }

    [Fact]
    public void Every_altered_byte_of_salt_or_payload_is_refused()
    {
        byte[] file = ProtectedKeyFile.Protect(new byte[32], Passphrase, PasswordKdfParameters.Pbkdf2(1000));
        string text = Encoding.ASCII.GetString(file);
        int saltStart = text.LastIndexOf('$') + 1;
        int payloadStart = text.IndexOf('\n', saltStart) + 1;
        foreach (int position in new[] { saltStart, saltStart + 5, payloadStart, payloadStart + 20, file.Length - 3 })
        {
            byte[] altered = (byte[])file.Clone();
            altered[position] = (byte)(altered[position] == 'A' ? 'B' : 'A');
            Assert.ThrowsAny<CryptoException>(() => ProtectedKeyFile.Unprotect(altered, Passphrase));
        }
    }

    [Fact]
    public void Malformed_truncated_and_future_files_are_told_apart()
    {
        byte[] file = ProtectedKeyFile.Protect(new byte[32], Passphrase, FastArgon2);
        string text = Encoding.ASCII.GetString(file);
        Assert.Throws<MalformedInputException>(() => ProtectedKeyFile.Unprotect("not a key file\n"u8, Passphrase));
        Assert.Throws<MalformedInputException>(() => ProtectedKeyFile.Unprotect(file.AsSpan(0, file.Length - 1), Passphrase));
        Assert.Throws<MalformedInputException>(() => ProtectedKeyFile.Unprotect(Encoding.ASCII.GetBytes(text + "extra\n"), Passphrase));
        Assert.Throws<TruncatedException>(() => ProtectedKeyFile.Unprotect(Encoding.ASCII.GetBytes(text[..(text.LastIndexOf('\n', text.Length - 2) + 1)] + "AAAA\n"), Passphrase));
        Assert.Throws<UnsupportedVersionException>(() => ProtectedKeyFile.Unprotect(Encoding.ASCII.GetBytes(text.Replace(" v1\n", " v2\n", StringComparison.Ordinal)), Passphrase));
        // Parameters past the bounds are refused before any work is done (a file cannot ask for 4 GiB of memory).
        Assert.Throws<MalformedInputException>(() => ProtectedKeyFile.Unprotect(Encoding.ASCII.GetBytes(text.Replace("m=1024", "m=4194304", StringComparison.Ordinal)), Passphrase));
        Assert.Throws<MalformedInputException>(() => ProtectedKeyFile.Unprotect(file, ""u8));
    }
}
