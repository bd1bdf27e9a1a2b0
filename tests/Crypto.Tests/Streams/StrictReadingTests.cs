using Pii.Crypto.Streams;
using Pii.Crypto.Streams.Keyrings;
using static Pii.Crypto.Tests.Streams.StreamTestSupport;

namespace Pii.Crypto.Tests.Streams;

/// <summary>
/// The reader refuses every altered, cut, extended or rearranged message with a typed error, and never hands out the
/// plaintext of a frame whose tag did not verify.
/// </summary>
public sealed class StrictReadingTests
{
    private const int F = 16;

    // 40 bytes with F = 16: regular frames 1 and 2, final frame 3 with 8 bytes.
    private static readonly byte[] Plaintext = Pattern(40);

    private static async Task<(byte[] Message, StreamLayout Layout)> SmallMessageAsync()
    {
        using var aes = AesKeyring();
        var message = await EncryptAsync(Plaintext, aes, AsciiContext, F);
        using var ranged = await RangeDecryptor.OpenAsync(RangeReaderOver(message), message.Length, aes);
        return (message, ranged.Layout);
    }

    [Fact]
    public async Task Every_single_byte_corruption_is_rejected_by_every_read_path()
    {
        var (message, _) = await SmallMessageAsync();
        using var aes = AesKeyring();
        foreach (var flip in new byte[] { 0x01, 0x80, 0xFF })
        {
            for (var i = 0; i < message.Length; i++)
            {
                var corrupted = (byte[])message.Clone();
                corrupted[i] ^= flip;
                var where = $"byte {i} ^ 0x{flip:X2}";
                await AssertRejectedAsync(() => DecryptWithStreamAsync(corrupted, aes), where);
                await AssertRejectedAsync(async () => (await DecryptAsync(corrupted, aes, parallelism: 3)).Plaintext, where);
                await AssertRejectedAsync(
                    async () =>
                    {
                        using var ranged = await RangeDecryptor.OpenAsync(RangeReaderOver(corrupted), corrupted.Length, aes);
                        return await ReadRangeAsync(ranged, 0, Plaintext.Length);
                    },
                    where);
            }
        }
    }

    [Fact]
    public async Task Random_garbage_and_multi_byte_damage_only_ever_raise_typed_errors()
    {
        var (message, _) = await SmallMessageAsync();
        using var aes = AesKeyring();
        var random = new Random(606);
        for (var trial = 0; trial < 300; trial++)
        {
            var damaged = trial % 3 == 0 ? RandomBytes(random.Next(0, 400)) : (byte[])message.Clone();
            if (trial % 3 == 1)
            {
                damaged[0] = 0x02;
                damaged[1] = 0x04;
                damaged[2] = 0x78;
                random.NextBytes(damaged.AsSpan(3 + random.Next(0, damaged.Length - 3)));
            }
            else if (trial % 3 == 2)
            {
                for (var i = random.Next(2, 6); i > 0; i--)
                {
                    damaged[random.Next(damaged.Length)] = (byte)random.Next(256);
                }
                damaged = damaged[..random.Next(damaged.Length - 8, damaged.Length + 1)];
            }
            var where = $"trial {trial}";
            await AssertRejectedAsync(() => DecryptWithStreamAsync(damaged, aes), where);
            await AssertRejectedAsync(async () => (await DecryptAsync(damaged, aes, parallelism: 2)).Plaintext, where);
            await AssertRejectedAsync(
                async () =>
                {
                    using var ranged = await RangeDecryptor.OpenAsync(RangeReaderOver(damaged), damaged.Length, aes);
                    return await ReadRangeAsync(ranged, 0, ranged.PlaintextLength);
                },
                where);
        }
    }

    [Fact]
    public async Task A_tampered_frame_releases_only_the_frames_before_it()
    {
        var (message, layout) = await SmallMessageAsync();
        var corrupted = (byte[])message.Clone();
        corrupted[layout.FrameOffset(1) + 20] ^= 0x01;
        using var aes = AesKeyring();
        await using var decrypting = await StreamDecryptor.OpenAsync(new MemoryStream(corrupted), aes);
        var released = new MemoryStream();
        var buffer = new byte[64];

        var error = Assert.Throws<TamperedException>(() =>
        {
            int read;
            while ((read = decrypting.Read(buffer)) > 0)
            {
                released.Write(buffer, 0, read);
            }
        });

        Assert.Contains("Frame 2", error.Message, StringComparison.Ordinal);
        Assert.Equal(Plaintext[..F], released.ToArray());
    }

    [Fact]
    public async Task Truncation_anywhere_is_reported_as_truncated()
    {
        var (message, layout) = await SmallMessageAsync();
        using var aes = AesKeyring();
        var boundaries = new[] { layout.HeaderLength, layout.FrameOffset(1), layout.FrameOffset(2) };
        for (var length = 0; length < message.Length; length++)
        {
            var cut = message[..length];
            await Assert.ThrowsAsync<TruncatedException>(() => DecryptWithStreamAsync(cut, aes));
            await Assert.ThrowsAsync<TruncatedException>(() => DecryptAsync(cut, aes, parallelism: 2));
        }
        foreach (var boundary in boundaries)
        {
            var cut = message[..(int)boundary];
            var error = await Assert.ThrowsAsync<TruncatedException>(() => DecryptAsync(cut, aes));
            Assert.Contains("without a final frame", error.Message, StringComparison.Ordinal);
            await AssertRejectedAsync(
                async () =>
                {
                    using var ranged = await RangeDecryptor.OpenAsync(RangeReaderOver(cut), cut.Length, aes);
                    return await ReadRangeAsync(ranged, 0, ranged.PlaintextLength);
                },
                $"ranged, cut at {boundary}");
        }
    }

    [Fact]
    public async Task A_store_delivering_fewer_bytes_than_its_stated_length_is_reported_as_truncated()
    {
        var (message, _) = await SmallMessageAsync();
        using var aes = AesKeyring();
        await Assert.ThrowsAsync<TruncatedException>(() => RangeDecryptor.OpenAsync(RangeReaderOver(message[..^1]), message.Length, aes));

        // Header and final frame intact, then every later fetch comes back one byte short.
        var whole = RangeReaderOver(message);
        var opened = false;
        CiphertextRangeReader shortAfterOpening = async (offset, destination, cancellationToken) =>
            await whole(offset, destination, cancellationToken) - (opened ? 1 : 0);
        using var ranged = await RangeDecryptor.OpenAsync(shortAfterOpening, message.Length, aes);
        opened = true;
        await Assert.ThrowsAsync<TruncatedException>(() => ReadRangeAsync(ranged, 0, F));
    }

    [Theory]
    [InlineData(new byte[] { 0x00 })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF })]
    [InlineData(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 })]
    public async Task Bytes_after_the_final_frame_are_rejected(byte[] trailing)
    {
        var (message, _) = await SmallMessageAsync();
        var extended = message.Concat(trailing).ToArray();
        using var aes = AesKeyring();

        await Assert.ThrowsAsync<MalformedInputException>(() => DecryptWithStreamAsync(extended, aes));
        await Assert.ThrowsAsync<MalformedInputException>(() => DecryptAsync(extended, aes, parallelism: 2));
        await AssertRejectedAsync(
            async () =>
            {
                using var ranged = await RangeDecryptor.OpenAsync(RangeReaderOver(extended), extended.Length, aes);
                return await ReadRangeAsync(ranged, 0, ranged.PlaintextLength);
            },
            "ranged");
    }

    [Fact]
    public async Task Reordered_duplicated_and_dropped_frames_are_rejected()
    {
        var (message, layout) = await SmallMessageAsync();
        var header = message[..layout.HeaderLength];
        var frame1 = message[(int)layout.FrameOffset(0)..(int)layout.FrameOffset(1)];
        var frame2 = message[(int)layout.FrameOffset(1)..(int)layout.FrameOffset(2)];
        var final = message[(int)layout.FinalFrameOffset..];
        using var aes = AesKeyring();

        byte[][] rearranged =
        [
            [.. header, .. frame2, .. frame1, .. final],
            [.. header, .. frame1, .. frame1, .. frame2, .. final],
            [.. header, .. frame1, .. frame2, .. frame2, .. final],
            [.. header, .. frame2, .. final],
            [.. header, .. frame1, .. final],
            [.. header, .. final],
        ];

        foreach (var candidate in rearranged)
        {
            await Assert.ThrowsAsync<TamperedException>(() => DecryptWithStreamAsync(candidate, aes));
            await Assert.ThrowsAsync<TamperedException>(() => DecryptAsync(candidate, aes, parallelism: 2));
        }
    }

    [Fact]
    public async Task A_full_final_frame_on_an_exact_multiple_is_accepted()
    {
        // The spec's other legal layout for 32 bytes with F = 16: regular frame 1 and a final frame 2 holding 16 bytes.
        var plaintext = Pattern(2 * F);
        using var aes = AesKeyring();
        var (header, cipher) = await MessageCrypto.CreateAsync(aes, AsciiContext, F, default);
        byte[] message;
        using (cipher)
        {
            var frame1 = new byte[F + 32];
            var final = new byte[F + 40];
            cipher.EncryptFrame(1, isFinal: false, plaintext.AsSpan(0, F), frame1);
            cipher.EncryptFrame(2, isFinal: true, plaintext.AsSpan(F), final);
            message = [.. header, .. frame1, .. final];
        }

        Assert.Equal(plaintext, (await DecryptAsync(message, aes)).Plaintext);
        Assert.Equal(plaintext, await DecryptWithStreamAsync(message, aes));
        using var ranged = await RangeDecryptor.OpenAsync(RangeReaderOver(message), message.Length, aes);
        Assert.Equal(1, ranged.Layout.RegularFrameCount);
        Assert.Equal(F, ranged.Layout.FinalFrameContentLength);
        Assert.Equal(plaintext[10..30], await ReadRangeAsync(ranged, 10, 30));
    }

    [Fact]
    public async Task A_forged_commit_key_with_a_recomputed_header_tag_fails_the_commitment_check()
    {
        var (message, layout) = await SmallMessageAsync();
        using var aes = AesKeyring();
        var header = await HeaderReader.ReadAsync(MessageCrypto.HeaderSource(new MemoryStream(message)), new StreamDecryptionOptions(), default);
        var dataKey = (await aes.UnwrapDataKeyAsync(header.EncryptedDataKeys, header.EncryptionContext, default))!;
        var encryptionKey = new byte[32];
        KeyDerivation.DeriveEncryptionKey(dataKey, header.MessageId, encryptionKey);
        var forgedBody = (byte[])header.Body.Clone();
        RandomBytes(32).CopyTo(forgedBody, forgedBody.Length - 32);
        var forgedTag = new byte[16];
        using (var cipher = new FrameCipher(encryptionKey, header.MessageId))
        {
            cipher.ComputeHeaderTag(forgedBody, forgedTag);
        }
        byte[] forged = [.. forgedBody, .. forgedTag, .. message[layout.HeaderLength..]];

        var error = await Assert.ThrowsAsync<TamperedException>(() => DecryptAsync(forged, aes));
        Assert.Contains("commitment", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Header_limits_are_enforced_before_any_key_work()
    {
        using var aes = AesKeyring();
        using var aes2 = AesKeyring("second");
        using var aes3 = AesKeyring("third");
        var threeEdks = await EncryptAsync(Plaintext, new MultiKeyring(aes, aes2, aes3), AsciiContext, F);
        Assert.Equal(Plaintext, (await DecryptAsync(threeEdks, aes3)).Plaintext);
        var tooMany = await Assert.ThrowsAsync<MalformedInputException>(
            () => DecryptAsync(threeEdks, aes, options: new StreamDecryptionOptions { MaxEncryptedDataKeys = 2 }));
        Assert.Contains("limit", tooMany.Message, StringComparison.Ordinal);

        var bigContext = new Dictionary<string, string> { ["big"] = new string('x', 60_000) };
        var bigHeader = await EncryptAsync(Plaintext, aes, bigContext, F);
        Assert.Equal(Plaintext, (await DecryptAsync(bigHeader, aes)).Plaintext);
        await Assert.ThrowsAsync<MalformedInputException>(
            () => DecryptAsync(bigHeader, aes, options: new StreamDecryptionOptions { MaxHeaderLength = 4096 }));

        var bigFrames = await EncryptAsync(Plaintext, aes, AsciiContext, frameLength: 1024 * 1024);
        await Assert.ThrowsAsync<MalformedInputException>(
            () => DecryptAsync(bigFrames, aes, options: new StreamDecryptionOptions { MaxFrameLength = 64 * 1024 }));
    }

    [Fact]
    public async Task Wrong_keys_are_reported_as_not_for_this_keyring()
    {
        var (message, _) = await SmallMessageAsync();
        using var otherName = AesKeyring("other-key");
        using var otherKey = new RawAesKeyring(AesNamespace, AesName, RandomBytes(32));
        using var rsa = RsaPrivateKeyring();

        await Assert.ThrowsAsync<UnknownKeyException>(() => DecryptAsync(message, otherName));
        await Assert.ThrowsAsync<UnknownKeyException>(() => DecryptAsync(message, otherKey));
        await Assert.ThrowsAsync<UnknownKeyException>(() => DecryptAsync(message, rsa));
    }

    [Fact]
    public async Task Other_versions_and_suites_are_unsupported()
    {
        var (message, _) = await SmallMessageAsync();
        using var aes = AesKeyring();
        var version1 = (byte[])message.Clone();
        version1[0] = 0x01;
        var signedSuite = (byte[])message.Clone();
        signedSuite[1] = 0x05;

        await Assert.ThrowsAsync<UnsupportedVersionException>(() => DecryptAsync(version1, aes));
        await Assert.ThrowsAsync<UnsupportedVersionException>(() => DecryptAsync(signedSuite, aes));
    }

    [Fact]
    public async Task An_encrypting_stream_disposed_without_completing_leaves_a_rejected_message()
    {
        using var aes = AesKeyring();
        var output = new MemoryStream();
        await using (var encrypting = await StreamEncryptor.CreateAsync(output, aes, options: new StreamEncryptionOptions { FrameLength = F }, leaveOpen: true))
        {
            await encrypting.WriteAsync(Plaintext);
        }

        await Assert.ThrowsAsync<TruncatedException>(() => DecryptAsync(output.ToArray(), aes));
    }

    private static async Task AssertRejectedAsync(Func<Task<byte[]>> decrypt, string where)
    {
        try
        {
            var plaintext = await decrypt();
            Assert.Fail($"{where}: accepted, returned {plaintext.Length} bytes");
        }
        catch (CryptoException)
        {
            // Expected: any typed rejection (tampered, truncated, malformed, unknown key, unsupported).
        }
    }
}
