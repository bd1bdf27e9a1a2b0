using System.Text.Json;
using Pii.Crypto.BlindIndexing;
using Pii.Crypto.Tests.Vectors;

namespace Pii.Crypto.Tests;

public class BlindIndexTests
{
    private static readonly byte[] IndexKey = Enumerable.Range(100, 32).Select(i => (byte)i).ToArray();

    public static TheoryData<int> PythonVectors() => [.. Enumerable.Range(0, CheckedInVectors.Section("blind_index").Count())];

    [Theory]
    [MemberData(nameof(PythonVectors))]
    public void Matches_hkdf_and_hmac_computed_by_python(int index)
    {
        JsonElement vector = CheckedInVectors.Section("blind_index").ElementAt(index);
        var kind = Enum.Parse<BlindIndexKind>(vector.Text("kind"), ignoreCase: true);
        Assert.Equal(vector.Text("normalized"), Normalizer.Normalize(kind, vector.Text("value")));
        using var blindIndex = new BlindIndex(vector.Hex("index_key"), vector.Text("table"), vector.Text("column"), kind);
        Assert.Equal(vector.Hex("index"), blindIndex.Compute(vector.Text("value")));
    }

    [Fact]
    public void Equal_after_normalization_gives_equal_index_and_columns_are_separated()
    {
        using var email = new BlindIndex(IndexKey, "dnc_preferences", "email", BlindIndexKind.Email);
        using var otherColumn = new BlindIndex(IndexKey, "suppression", "email", BlindIndexKind.Email);
        Assert.Equal(email.Compute(" Alice@Example.com"), email.Compute("alice@example.com "));
        Assert.NotEqual(email.Compute("alice@example.com"), email.Compute("bob@example.com"));
        Assert.NotEqual(email.Compute("alice@example.com"), otherColumn.Compute("alice@example.com"));
        Assert.Equal(16, email.Compute("alice@example.com").Length);
    }

    [Fact]
    public void Length_is_configurable_and_is_a_prefix_of_the_mac()
    {
        using var full = new BlindIndex(IndexKey, "t", "c", BlindIndexKind.Ssn, 32);
        using var shortIndex = new BlindIndex(IndexKey, "t", "c", BlindIndexKind.Ssn, 8);
        Assert.Equal(full.Compute("078-05-1120")[..8], shortIndex.Compute("078051120"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BlindIndex(IndexKey, "t", "c", BlindIndexKind.Ssn, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BlindIndex(IndexKey, "t", "c", BlindIndexKind.Ssn, 33));
        Assert.Throws<ArgumentException>(() => new BlindIndex(new byte[16], "t", "c", BlindIndexKind.Ssn));
    }

    [Theory]
    [InlineData("+1 (415) 555-0100", "+14155550100")]
    [InlineData("+44 20 7946 0958", "+442079460958")]
    [InlineData("+49.30.123456", "+4930123456")]
    [InlineData("  +33-1-23-45-67-89 ", "+33123456789")]
    [InlineData("+1(415)5550100", "+14155550100")]
    [InlineData("+683 4002", "+6834002")]
    public void Phone_numbers_normalize_to_e164(string input, string expected) =>
        Assert.Equal(expected, Normalizer.Phone(input));

    [Theory]
    [InlineData("")]
    [InlineData("415 555 0100")]             // no country code
    [InlineData("+44 (0) 20 7946 0958")]     // trunk prefix
    [InlineData("+0 123 456 789")]           // country code cannot start with 0
    [InlineData("+1 415 555 0100 ext 2")]
    [InlineData("+1--415 555 0100")]
    [InlineData("+ 1 415 555 0100")]
    [InlineData("+1 415 555 0100-")]
    [InlineData("+1 (415 555 0100")]
    [InlineData("+1 ((415)) 555 0100")]
    [InlineData("+1 () 4155550100")]
    [InlineData("+1234567890123456")]        // 16 digits
    [InlineData("+123456")]                  // 6 digits
    [InlineData("+1 415 555 0100 / 2")]
    [InlineData("++14155550100")]
    [InlineData("+١٤١٥٥٥٥٠١٠٠")]             // non-ASCII digits
    public void Phone_numbers_that_cannot_be_normalized_are_rejected(string input) =>
        Assert.Throws<MalformedInputException>(() => Normalizer.Phone(input));

    [Fact]
    public void Ssn_keeps_exactly_nine_digits()
    {
        Assert.Equal("078051120", Normalizer.Ssn(" 078-05-1120 "));
        Assert.Equal("078051120", Normalizer.Ssn("078 05 1120"));
        Assert.Throws<MalformedInputException>(() => Normalizer.Ssn("078-05-112"));
        Assert.Throws<MalformedInputException>(() => Normalizer.Ssn("078-05-11200"));
        Assert.Throws<MalformedInputException>(() => Normalizer.Ssn("078/05/1120"));
    }

    [Fact]
    public void Names_use_nfkc_case_fold_and_collapsed_whitespace()
    {
        Assert.Equal("zoë ünal", Normalizer.Name("  ＺＯË \t  Ünal "));
        Assert.Equal(Normalizer.Name("Zoe\u0308"), Normalizer.Name("ZOË"));
        Assert.Equal("ﬁ".Normalize(System.Text.NormalizationForm.FormKC), Normalizer.Name("ﬁ"));
        Assert.Throws<MalformedInputException>(() => Normalizer.Name("  \t "));
    }

    [Fact]
    public void Email_is_trimmed_and_lowercased_and_must_not_be_empty()
    {
        Assert.Equal("alice@example.com", Normalizer.Email("\tALICE@Example.COM \n"));
        Assert.Throws<MalformedInputException>(() => Normalizer.Email("   "));
    }
}
