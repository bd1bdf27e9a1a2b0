using Pii.Crypto.Fields;

namespace Pii.Crypto.Tests;

public class NonceSourceTests
{
    [Fact]
    public void Nonces_are_distinct_across_refills_and_handed_out_bytes_are_zeroed()
    {
        var seen = new HashSet<string>();
        Span<byte> nonce = stackalloc byte[NonceSource.NonceSize];
        for (int i = 0; i < 1000; i++) // about four buffer refills
        {
            NonceSource.Next(nonce);
            Assert.True(seen.Add(Convert.ToHexString(nonce)));
            Assert.True(NonceSource.HandedOutBytesAreZero());
        }
    }
}
