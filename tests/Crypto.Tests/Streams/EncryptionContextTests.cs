using Pii.Crypto.Streams;
using static Pii.Crypto.Tests.Streams.StreamTestSupport;

namespace Pii.Crypto.Tests.Streams;

public sealed class EncryptionContextTests
{
    [Fact]
    public void Pairs_sort_by_utf8_bytes_not_utf16_code_units()
    {
        var serialized = EncryptionContextSerializer.Serialize(new Dictionary<string, string> { ["\U0001F600"] = "a", ["\uFF21"] = "b" });

        // U+FF21 is EF BC A1 in UTF-8 and U+1F600 is F0 9F 98 80, so U+FF21 comes first (UTF-16 order is the reverse).
        Assert.Equal(Convert.FromHexString("0002" + "0003EFBCA1" + "000162" + "0004F09F9880" + "000161"), serialized);
        Assert.True(string.CompareOrdinal("\U0001F600", "\uFF21") < 0);
    }

    [Fact]
    public void An_empty_context_is_zero_bytes()
    {
        Assert.Empty(EncryptionContextSerializer.Serialize(new Dictionary<string, string>()));
        Assert.Empty(EncryptionContextSerializer.Deserialize([]));
    }

    [Fact]
    public void Round_trips_non_ascii_pairs()
    {
        var context = NonAsciiContext;
        var parsed = EncryptionContextSerializer.Deserialize(EncryptionContextSerializer.Serialize(context));
        Assert.Equal(context.OrderBy(p => p.Key, StringComparer.Ordinal), parsed.OrderBy(p => p.Key, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("0000")]
    [InlineData("0002" + "000162" + "000178" + "000161" + "000178")]
    [InlineData("0002" + "000161" + "000178" + "000161" + "000178")]
    [InlineData("0001" + "000161" + "000378")]
    [InlineData("0001" + "000161" + "000178" + "00")]
    [InlineData("0001" + "0001FF" + "000178")]
    public void Rejects_malformed_unsorted_or_duplicate_serializations(string hex)
    {
        Assert.Throws<MalformedInputException>(() => EncryptionContextSerializer.Deserialize(Convert.FromHexString(hex)));
    }

    [Fact]
    public async Task Reserved_keys_and_lone_surrogates_are_refused_on_encrypt()
    {
        using var aes = AesKeyring();
        await Assert.ThrowsAsync<ArgumentException>(() => EncryptAsync([1], aes, new Dictionary<string, string> { ["aws-crypto-public-key"] = "x" }));
        await Assert.ThrowsAsync<ArgumentException>(() => EncryptAsync([1], aes, new Dictionary<string, string> { ["\uD800"] = "x" }));
    }
}
