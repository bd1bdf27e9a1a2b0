// Encryption context serialization (AWS Encryption SDK, framework/structures.md). Used twice: as the header's AAD
// field (behind a u16 length) and as the raw AES keyring's wrapping AAD (without that length).
//
//   empty context  -> zero bytes (no count)
//   otherwise      -> u16 pair count (>= 1)
//                     repeated: u16 key length || key (UTF-8) || u16 value length || value (UTF-8)
//
// Pairs are sorted by the key's UTF-8 bytes (unsigned, byte-wise, shorter prefix first); keys are unique.
// Sorting on encoded bytes matters: UTF-16 ordinal order puts U+1F600 before U+FF21, UTF-8 order after it.
// The whole serialization is at most 65 535 bytes. All integers big-endian.
using System.Buffers.Binary;
using System.Text;

namespace Pii.Crypto.Streams;

internal static class EncryptionContextSerializer
{
    public const int MaxSerializedLength = ushort.MaxValue;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Serializes a caller's context; throws ArgumentException on invalid strings or sizes.</summary>
    public static byte[] Serialize(IReadOnlyDictionary<string, string> context)
    {
        if (context.Count == 0)
        {
            return [];
        }
        if (context.Count > ushort.MaxValue)
        {
            throw new ArgumentException("The encryption context has too many pairs.", nameof(context));
        }

        var pairs = new List<(byte[] Key, byte[] Value)>(context.Count);
        var total = 2;
        foreach (var (key, value) in context)
        {
            var keyBytes = Encode(key, nameof(context));
            var valueBytes = Encode(value, nameof(context));
            if (keyBytes.Length > ushort.MaxValue || valueBytes.Length > ushort.MaxValue)
            {
                throw new ArgumentException("An encryption context key or value exceeds 65 535 bytes.", nameof(context));
            }
            total += 4 + keyBytes.Length + valueBytes.Length;
            pairs.Add((keyBytes, valueBytes));
        }
        if (total > MaxSerializedLength)
        {
            throw new ArgumentException("The serialized encryption context exceeds 65 535 bytes.", nameof(context));
        }
        pairs.Sort((x, y) => x.Key.AsSpan().SequenceCompareTo(y.Key));

        var output = new byte[total];
        BinaryPrimitives.WriteUInt16BigEndian(output, (ushort)pairs.Count);
        var position = 2;
        foreach (var (key, value) in pairs)
        {
            position = WriteField(output, position, key);
            position = WriteField(output, position, value);
        }
        return output;
    }

    /// <summary>Parses a header's context strictly: count ≥ 1, keys in ascending UTF-8 order, no duplicates, valid UTF-8, no slack.</summary>
    public static Dictionary<string, string> Deserialize(ReadOnlySpan<byte> serialized)
    {
        var context = new Dictionary<string, string>(StringComparer.Ordinal);
        if (serialized.IsEmpty)
        {
            return context;
        }
        if (serialized.Length < 2)
        {
            throw new MalformedInputException("The encryption context is too short.");
        }
        int count = BinaryPrimitives.ReadUInt16BigEndian(serialized);
        if (count == 0)
        {
            throw new MalformedInputException("A non-empty encryption context must hold at least one pair.");
        }
        var position = 2;
        var previousKey = serialized[..0];
        for (var i = 0; i < count; i++)
        {
            var key = ReadField(serialized, ref position);
            var value = ReadField(serialized, ref position);
            if (i > 0 && previousKey.SequenceCompareTo(key) >= 0)
            {
                throw new MalformedInputException("Encryption context keys are not in ascending UTF-8 order or repeat.");
            }
            previousKey = key;
            context.Add(Decode(key), Decode(value));
        }
        if (position != serialized.Length)
        {
            throw new MalformedInputException("The encryption context has bytes after its last pair.");
        }
        return context;
    }

    private static byte[] Encode(string text, string parameterName)
    {
        try
        {
            return StrictUtf8.GetBytes(text);
        }
        catch (EncoderFallbackException)
        {
            throw new ArgumentException("An encryption context string is not valid Unicode (lone surrogate).", parameterName);
        }
    }

    private static string Decode(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new MalformedInputException("An encryption context string is not valid UTF-8.");
        }
    }

    private static int WriteField(Span<byte> output, int position, byte[] field)
    {
        BinaryPrimitives.WriteUInt16BigEndian(output[position..], (ushort)field.Length);
        field.CopyTo(output[(position + 2)..]);
        return position + 2 + field.Length;
    }

    private static ReadOnlySpan<byte> ReadField(ReadOnlySpan<byte> serialized, scoped ref int position)
    {
        if (serialized.Length - position < 2)
        {
            throw new MalformedInputException("The encryption context ends inside a length field.");
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(serialized[position..]);
        position += 2;
        if (serialized.Length - position < length)
        {
            throw new MalformedInputException("An encryption context field runs past the end of the context.");
        }
        var field = serialized.Slice(position, length);
        position += length;
        return field;
    }
}
