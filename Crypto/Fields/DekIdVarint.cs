namespace Pii.Crypto.Fields;

/// <summary>
/// The DEK id in a field header: unsigned LEB128 (7 bits per byte, least significant group first, high bit = more
/// bytes follow), 1 to 5 bytes, value 0..int.MaxValue. Only the shortest encoding is accepted, so each id has exactly
/// one header (the header is authenticated as associated data, and a second spelling would be a malleability).
/// </summary>
internal static class DekIdVarint
{
    private const int MaxBytes = 5;

    public static int Length(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        int length = 1;
        for (uint v = (uint)value >> 7; v != 0; v >>= 7)
        {
            length++;
        }
        return length;
    }

    public static int Write(int value, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        uint v = (uint)value;
        int i = 0;
        while (v >= 0x80)
        {
            destination[i++] = (byte)(v | 0x80);
            v >>= 7;
        }
        destination[i++] = (byte)v;
        return i;
    }

    public static int Read(ReadOnlySpan<byte> source, out int length)
    {
        ulong value = 0;
        for (int i = 0; i < MaxBytes; i++)
        {
            if (i >= source.Length)
            {
                throw new TruncatedException("Field header ends inside the DEK id.");
            }
            byte b = source[i];
            value |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                if ((b == 0 && i > 0) || value > int.MaxValue)
                {
                    throw new MalformedInputException("Field header has a non-canonical or out-of-range DEK id.");
                }
                length = i + 1;
                return (int)value;
            }
        }
        throw new MalformedInputException("Field header's DEK id is longer than 5 bytes.");
    }
}
