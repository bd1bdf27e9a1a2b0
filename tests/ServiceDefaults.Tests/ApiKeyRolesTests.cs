using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Configuration;
using Pii.ServiceDefaults.Auth;

namespace Pii.ServiceDefaults.Tests;

public sealed class ApiKeyRolesTests
{
    private static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static ApiKeyRoles Roles() => new(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["Auth:ApiKeyHashes:dialer"] = Hash("key-one"),
        ["Auth:ApiKeyHashes:auditor"] = Hash("key-two"),
        ["Auth:ApiKeyHashes:broken"] = "not-hex",
    }).Build());

    [Fact]
    public void Keys_match_their_role_by_sha256_hash_only()
    {
        var roles = Roles();
        Assert.Equal("dialer", roles.Match("key-one")?.Role);
        Assert.Equal("auditor", roles.Match("key-two")?.Role);
        Assert.Null(roles.Match("key-one "));
        Assert.Null(roles.Match(Hash("key-one")));
        Assert.Null(roles.Match(""));
        Assert.Null(roles.Match(null));
        Assert.Null(roles.Match(new string('k', 257)));
    }

    [Fact]
    public void The_fingerprint_names_the_key_without_being_its_stored_hash()
    {
        var match = Roles().Match("key-one")!;
        Assert.Equal(16, match.KeyFingerprint.Length);
        Assert.DoesNotContain(match.KeyFingerprint, Hash("key-one"), StringComparison.Ordinal);
        Assert.Equal(match.KeyFingerprint, Roles().Match("key-one")!.KeyFingerprint);
    }
}
