using System.Text;
using System.Text.Json;
using Pii.Crypto.Kdf;

namespace Pii.Crypto.Tests.Kdf;

public class PasswordKdfTests
{
    /// <summary>
    /// PBKDF2-HMAC-SHA256 in the style of RFC 6070 (which covers SHA-1 only): the widely republished SHA-256 set
    /// (e.g. brycx/Test-Vector-Generation, Stack Overflow "PBKDF2-HMAC-SHA256 test vectors") for the first five, and
    /// RFC 7914 section 11's two PBKDF2-HMAC-SHA256 vectors for the last two.
    /// </summary>
    public static TheoryData<string, string, int, string> Pbkdf2Sha256Vectors() => new()
    {
        { "password", "salt", 1, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b" },
        { "password", "salt", 2, "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43" },
        { "password", "salt", 4096, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a" },
        { "passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c7dac47e9" },
        { "pass\0word", "sa\0lt", 4096, "89b69d0516f829893c696226650a8687" },
        { "passwd", "salt", 1, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783" },
        { "Password", "NaCl", 80000, "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d" },
    };

    [Theory]
    [MemberData(nameof(Pbkdf2Sha256Vectors))]
    public void Pbkdf2_sha256_published_vectors(string password, string salt, int iterations, string expected)
    {
        byte[] output = PasswordKdf.DeriveKey(PasswordKdfParameters.Pbkdf2(iterations), Encoding.ASCII.GetBytes(password),
            Encoding.ASCII.GetBytes(salt), expected.Length / 2);
        Assert.Equal(expected, Convert.ToHexStringLower(output));
    }

    /// <summary>
    /// RFC 9106 section 5.3 (Argon2id, version 0x13): m = 32 KiB, t = 3, p = 4, password 32 × 0x01, salt 16 × 0x02,
    /// secret K = 8 × 0x03, associated data X = 12 × 0x04, tag 32 bytes. Konscious takes K and X as KnownSecret and
    /// AssociatedData; our public API does not expose them (passphrase files use neither), the internal overload does.
    /// </summary>
    [Fact]
    public void Argon2id_rfc9106_section_5_3()
    {
        byte[] tag = PasswordKdf.DeriveKey(PasswordKdfParameters.Argon2id(memoryKiB: 32, iterations: 3, parallelism: 4),
            Enumerable.Repeat((byte)0x01, 32).ToArray(), Enumerable.Repeat((byte)0x02, 16).ToArray(), 32,
            secret: Enumerable.Repeat((byte)0x03, 8).ToArray(), associatedData: Enumerable.Repeat((byte)0x04, 12).ToArray());
        Assert.Equal("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659", Convert.ToHexStringLower(tag));
    }

    public static TheoryData<string, int> PythonVectors()
    {
        var data = new TheoryData<string, int>();
        foreach (string section in new[] { "pbkdf2_sha256", "argon2id" })
        {
            for (int i = 0; i < KdfVectors.Section(section).Length; i++)
            {
                data.Add(section, i);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(PythonVectors))]
    public void Matches_python_cryptography(string section, int index)
    {
        JsonElement v = KdfVectors.Section(section)[index];
        PasswordKdfParameters parameters = section == "pbkdf2_sha256"
            ? PasswordKdfParameters.Pbkdf2(v.GetProperty("iterations").GetInt32())
            : PasswordKdfParameters.Argon2id(v.GetProperty("memory_kib").GetInt32(), v.GetProperty("iterations").GetInt32(), v.GetProperty("parallelism").GetInt32());
        string expected = v.GetProperty("output").GetString()!;
        byte[] output = PasswordKdf.DeriveKey(parameters, Convert.FromHexString(v.GetProperty("password").GetString()!),
            Convert.FromHexString(v.GetProperty("salt").GetString()!), expected.Length / 2);
        Assert.Equal(expected, Convert.ToHexStringLower(output));
    }

    [Fact]
    public void Parameters_are_bounded()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PasswordKdfParameters.Pbkdf2(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => PasswordKdfParameters.Pbkdf2(PasswordKdfParameters.MaxPbkdf2Iterations + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PasswordKdfParameters.Argon2id(memoryKiB: 31, iterations: 1, parallelism: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => PasswordKdfParameters.Argon2id(PasswordKdfParameters.MaxArgon2MemoryKiB + 1, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PasswordKdfParameters.Argon2id(64, 0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => PasswordKdfParameters.Argon2id(1024, 1, 17));
        Assert.Throws<MalformedInputException>(() => PasswordKdf.DeriveKey(PasswordKdfParameters.Argon2id(64, 1, 1), "p"u8, "short"u8, 32));
        Assert.Throws<MalformedInputException>(() => PasswordKdf.DeriveKey(PasswordKdfParameters.Pbkdf2(1), ""u8, "salt"u8, 32));
        Assert.Throws<MalformedInputException>(() => PasswordKdf.DeriveKey(PasswordKdfParameters.Pbkdf2(1), new byte[PasswordKdf.MaxPasswordBytes + 1], "salt"u8, 32));
        Assert.Equal("$argon2id$v=19$m=65536,t=2,p=1", PasswordKdfParameters.DefaultArgon2id.ToString());
        Assert.Equal("$pbkdf2-sha256$i=600000", PasswordKdfParameters.DefaultPbkdf2.ToString());
    }
}

public class PasswordHashTests
{
    private static readonly PasswordKdfParameters FastArgon2 = PasswordKdfParameters.Argon2id(memoryKiB: 256, iterations: 1, parallelism: 1);

    [Fact]
    public void Hash_and_verify_in_phc_form_for_both_kdfs()
    {
        foreach (PasswordKdfParameters parameters in new[] { FastArgon2, PasswordKdfParameters.Pbkdf2(1000) })
        {
            string hash = PasswordHash.Hash("correct horse"u8, parameters);
            Assert.StartsWith(parameters + "$", hash, StringComparison.Ordinal);
            Assert.Matches(@"\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$", hash);
            Assert.True(PasswordHash.Verify("correct horse"u8, hash));
            Assert.False(PasswordHash.Verify("correct horsf"u8, hash));
            Assert.NotEqual(hash, PasswordHash.Hash("correct horse"u8, parameters));
        }
    }

    [Fact]
    public void Verifies_a_phc_string_made_by_python_cryptography()
    {
        // python3 -c "from cryptography.hazmat.primitives.kdf.argon2 import Argon2id; print(Argon2id(salt=b'0123456789abcdef',
        //   length=32, iterations=2, lanes=1, memory_cost=256).derive_phc_encoded(b'hunter2'))"
        const string phc = "$argon2id$v=19$m=256,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$pTbTcG1soUIft9FsonjTyAA0idF/4HiM27Hedij6VG4";
        Assert.True(PasswordHash.Verify("hunter2"u8, phc));
        Assert.False(PasswordHash.Verify("hunter3"u8, phc));
    }

    [Fact]
    public void Stored_parameters_can_rise()
    {
        string old = PasswordHash.Hash("pw"u8, PasswordKdfParameters.Pbkdf2(1000));
        Assert.True(PasswordHash.NeedsRehash(old, PasswordKdfParameters.Pbkdf2(2000)));
        Assert.False(PasswordHash.NeedsRehash(old, PasswordKdfParameters.Pbkdf2(1000)));
        Assert.True(PasswordHash.Verify("pw"u8, old));
    }

    [Theory]
    [InlineData("")]
    [InlineData("argon2id$v=19$m=256,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg")]
    [InlineData("$argon2id$v=19$m=256,t=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg")]
    [InlineData("$argon2id$v=19$m=256,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg==$MDEyMzQ1Njc4OWFiY2RlZg")]
    [InlineData("$argon2id$v=19$m=99999999,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg")]
    [InlineData("$argon2id$v=19$m=0256,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg")]
    [InlineData("$pbkdf2-sha256$i=99999999$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg")]
    [InlineData("$pbkdf2-sha256$i=1000$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg$extra")]
    public void Malformed_or_unbounded_hashes_are_refused(string encoded)
    {
        Assert.Throws<MalformedInputException>(() => PasswordHash.Verify("pw"u8, encoded));
    }

    [Theory]
    [InlineData("$argon2i$v=19$m=256,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg")]
    [InlineData("$argon2id$v=16$m=256,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg")]
    [InlineData("$scrypt$ln=16,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MDEyMzQ1Njc4OWFiY2RlZg")]
    public void Unknown_algorithms_and_versions_are_unsupported(string encoded)
    {
        Assert.Throws<UnsupportedVersionException>(() => PasswordHash.Verify("pw"u8, encoded));
    }
}

/// <summary>kdf.json, made by Vectors/kdf.py (the command is in the file).</summary>
internal static class KdfVectors
{
    private static readonly Lazy<JsonDocument> Document = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vectors", "kdf.json"))));

    public static JsonElement[] Section(string name) => [.. Document.Value.RootElement.GetProperty(name).EnumerateArray()];
}
