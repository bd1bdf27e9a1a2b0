using Pii.Crypto.Streams;
using static Pii.Crypto.Tests.Streams.StreamTestSupport;

namespace Pii.Crypto.Tests.Streams;

/// <summary>Round trips at 0, 1, F−1, F, F+1, 3F, 3F+1 through every write and read path, and random access.</summary>
public sealed class BoundarySizeTests
{
    private const int F = 16;

    public static TheoryData<int> Sizes => [0, 1, F - 1, F, F + 1, 3 * F, 3 * F + 1];

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task Round_trips_through_sync_async_and_parallel_paths(int size)
    {
        var plaintext = RandomBytes(size);
        using var aes = AesKeyring();
        var messages = new List<byte[]>
        {
            await EncryptAsync(plaintext, aes, NonAsciiContext, F),
            await EncryptAsync(plaintext, aes, NonAsciiContext, F, parallelism: 3),
        };
        foreach (var chunk in new[] { 1, 7, F, 1000 })
        {
            messages.Add(await EncryptWithSyncWritesAsync(plaintext, chunk));
        }

        foreach (var message in messages)
        {
            using var ranged = await RangeDecryptor.OpenAsync(RangeReaderOver(message), message.Length, aes);
            Assert.Equal(StreamLayout.ForPlaintext(ranged.Layout.HeaderLength, F, size), ranged.Layout);
            Assert.Equal(plaintext, (await DecryptAsync(message, aes)).Plaintext);
            Assert.Equal(plaintext, (await DecryptAsync(message, aes, parallelism: 3)).Plaintext);
            Assert.Equal(plaintext, await DecryptWithStreamAsync(message, aes));
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public async Task Random_access_returns_every_range(int size)
    {
        var plaintext = RandomBytes(size);
        using var aes = AesKeyring();
        var message = await EncryptAsync(plaintext, aes, AsciiContext, F);
        var fetches = new List<(long Offset, int Count)>();
        CiphertextRangeReader reader = (offset, destination, _) =>
        {
            fetches.Add((offset, destination.Length));
            message.AsMemory((int)offset, destination.Length).CopyTo(destination);
            return ValueTask.FromResult(destination.Length);
        };
        using var ranged = await RangeDecryptor.OpenAsync(reader, message.Length, aes);
        Assert.Equal(size, ranged.PlaintextLength);

        for (var start = 0; start <= size; start++)
        {
            for (var end = start; end <= size; end++)
            {
                fetches.Clear();
                Assert.Equal(plaintext[start..end], await ReadRangeAsync(ranged, start, end));
                var (first, last, offset, length) = ranged.Layout.CiphertextRangeFor(start, end);
                // Only the frames covering the range are fetched (the final frame is verified once, at open).
                Assert.Equal(fetches.Sum(f => (long)f.Count), last < ranged.Layout.RegularFrameCount ? length : length - (message.Length - ranged.Layout.FinalFrameOffset));
                Assert.All(fetches, f => Assert.True(f.Offset >= offset && f.Offset + f.Count <= offset + length));
                if (start < end)
                {
                    Assert.Equal(start / F, first);
                }
            }
        }
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => ReadRangeAsync(ranged, 0, size + 1));
    }

    [Fact]
    public async Task Random_ranges_of_larger_messages_match()
    {
        var random = new Random(6);
        using var aes = AesKeyring();
        for (var trial = 0; trial < 20; trial++)
        {
            var frameLength = random.Next(1, 5000);
            var plaintext = RandomBytes(random.Next(0, 300_000));
            var message = await EncryptAsync(plaintext, aes, AsciiContext, frameLength, parallelism: 2);
            using var ranged = await RangeDecryptor.OpenAsync(RangeReaderOver(message), message.Length, aes);
            for (var i = 0; i < 20; i++)
            {
                var start = random.Next(0, plaintext.Length + 1);
                var end = random.Next(start, plaintext.Length + 1);
                Assert.Equal(plaintext[start..end], await ReadRangeAsync(ranged, start, end));
            }
        }
    }

    [Fact]
    public async Task Parallel_paths_handle_a_few_mebibytes_in_order()
    {
        var plaintext = RandomBytes(5 * 1024 * 1024 + 3);
        using var aes = AesKeyring();
        var message = await EncryptAsync(plaintext, aes, AsciiContext, frameLength: 4096, parallelism: 4);
        Assert.Equal(plaintext, (await DecryptAsync(message, aes, parallelism: 4)).Plaintext);
        Assert.Equal(plaintext, (await DecryptAsync(message, aes)).Plaintext);
    }

    [Fact]
    public void Layout_maps_plaintext_ranges_to_ciphertext_ranges()
    {
        var layout = StreamLayout.ForPlaintext(headerLength: 200, frameLength: 100, plaintextLength: 350);

        Assert.Equal(3, layout.RegularFrameCount);
        Assert.Equal(50, layout.FinalFrameContentLength);
        Assert.Equal(200 + 3 * 132 + 40 + 50, layout.CiphertextLength);
        Assert.Equal((1, 1, 200 + 132, 132), layout.CiphertextRangeFor(100, 200));
        Assert.Equal((2, 3, 200 + 264, 132 + 90), layout.CiphertextRangeFor(250, 350));
        Assert.Equal(layout, StreamLayout.FromCiphertextLength(200, 100, layout.CiphertextLength));
        Assert.Throws<MalformedInputException>(() => StreamLayout.FromCiphertextLength(200, 100, layout.CiphertextLength + 60));
        Assert.Throws<TruncatedException>(() => StreamLayout.FromCiphertextLength(200, 100, 239));
    }

    private static async Task<byte[]> EncryptWithSyncWritesAsync(byte[] plaintext, int chunk)
    {
        using var aes = AesKeyring();
        var output = new MemoryStream();
        using (var encrypting = await StreamEncryptor.CreateAsync(output, aes, NonAsciiContext, new StreamEncryptionOptions { FrameLength = F }, leaveOpen: true))
        {
            for (var offset = 0; offset < plaintext.Length; offset += chunk)
            {
                encrypting.Write(plaintext, offset, Math.Min(chunk, plaintext.Length - offset));
            }
            encrypting.Complete();
        }
        return output.ToArray();
    }
}
