using Pii.Kms.Auth;

namespace Pii.Kms.Tests;

/// <summary>The HCL/JSON policy parser (bounded, rejects malformed text) and Vault's path matching rules.</summary>
public sealed class AclPolicyTests
{
    [Fact]
    public void Parses_hcl_with_comments_and_json_to_the_same_rules()
    {
        var hcl = AclPolicy.Parse("p", """
            # comment
            // another
            /* block */
            path "transit/encrypt/dnc" {
              capabilities = ["update", "create"]
            }
            path "transit/keys/+/rotate" { capabilities = ["update"] description = "ignored" }
            """);
        var json = AclPolicy.Parse("p", """{"path":{"transit/encrypt/dnc":{"capabilities":["update","create"]},"transit/keys/+/rotate":{"capabilities":["update"]}}}""");
        Assert.Equal(hcl.Rules.Select(r => (r.Pattern, string.Join(',', r.Capabilities.Order()))), json.Rules.Select(r => (r.Pattern, string.Join(',', r.Capabilities.Order()))));
    }

    [Theory]
    [InlineData("path")]
    [InlineData("path \"x\"")]
    [InlineData("path \"x\" {")]
    [InlineData("path \"x\" { capabilities = [\"read\"")]
    [InlineData("path \"x\" { capabilities = [\"teleport\"] }")]
    [InlineData("path x { capabilities = [\"read\"] }")]
    [InlineData("path \"unterminated { }")]
    [InlineData("policy = \"write\"")]
    [InlineData("{\"path\": [1,2]}")]
    [InlineData("{not json")]
    [InlineData("path \"x\" { capabilities = [\"read\"] } }")]
    public void Rejects_malformed_policies(string text) => Assert.Throws<FormatException>(() => AclPolicy.Parse("bad", text));

    [Theory]
    [InlineData("transit/encrypt/dnc", "transit/encrypt/dnc", true)]
    [InlineData("transit/encrypt/dnc", "transit/encrypt/dnc2", false)]
    [InlineData("transit/encrypt/*", "transit/encrypt/anything/deeper", true)]
    [InlineData("transit/encrypt/d*", "transit/encrypt/dnc", true)]
    [InlineData("transit/encrypt/d*", "transit/decrypt/dnc", false)]
    [InlineData("transit/keys/+/rotate", "transit/keys/dnc/rotate", true)]
    [InlineData("transit/keys/+/rotate", "transit/keys/dnc/config", false)]
    [InlineData("transit/keys/+", "transit/keys/dnc/rotate", false)]
    [InlineData("transit/+/dnc*", "transit/decrypt/dnc", true)]
    public void Globs_match_like_vault(string pattern, string path, bool expected) => Assert.Equal(expected, PolicyEvaluator.Matches(pattern, path));

    [Fact]
    public void Most_specific_rule_decides_rules_merge_across_policies_and_deny_wins()
    {
        var dir = Directory.CreateTempSubdirectory("acl-").FullName;
        try
        {
            using var store = new Pii.Kms.Storage.KmsStore(Path.Combine(dir, "kms.db"), null);
            var evaluator = new PolicyEvaluator(store);
            evaluator.Put("broad", "path \"transit/*\" { capabilities = [\"update\"] }");
            evaluator.Put("narrow", "path \"transit/decrypt/dnc\" { capabilities = [\"read\"] }");
            evaluator.Put("more", "path \"transit/decrypt/dnc\" { capabilities = [\"list\"] }");
            evaluator.Put("blocker", "path \"transit/keys/dnc/trim\" { capabilities = [\"deny\", \"update\"] }");
            var token = new TokenEntry("h", "a", ["broad", "narrow", "more", "blocker"], 0, null, "t");

            Assert.True(evaluator.Allows(token, "transit/encrypt/dnc", "update"));
            Assert.False(evaluator.Allows(token, "transit/decrypt/dnc", "update"));
            Assert.True(evaluator.Allows(token, "transit/decrypt/dnc", "read"));
            Assert.True(evaluator.Allows(token, "transit/decrypt/dnc", "list"));
            Assert.False(evaluator.Allows(token, "transit/keys/dnc/trim", "update"));
            Assert.False(evaluator.Allows(token, "sys/policies/acl/x", "update"));
            Assert.True(evaluator.Allows(token with { Policies = ["root"] }, "sys/policies/acl/x", "update"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
