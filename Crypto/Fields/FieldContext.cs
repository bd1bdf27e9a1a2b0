using System.Buffers.Binary;
using System.Text;

namespace Pii.Crypto.Fields;

/// <summary>
/// The cell a field ciphertext belongs to. It is bound into the AEAD's associated data, so a ciphertext copied to
/// another table, column or record fails to decrypt.
/// </summary>
public readonly record struct FieldContext
{
    /// <summary>Upper bound on each part's UTF-8 length, so the associated data stays small and bounded.</summary>
    public const int MaxPartBytes = 256;

    public FieldContext(string table, string column, string recordId)
    {
        Table = CheckPart(table, nameof(table), allowEmpty: false);
        Column = CheckPart(column, nameof(column), allowEmpty: false);
        RecordId = CheckPart(recordId, nameof(recordId), allowEmpty: true);
    }

    public string Table { get; }
    public string Column { get; }
    public string RecordId { get; }

    /// <summary>Parses <c>TABLE.COLUMN:ID</c> (table up to the first '.', column up to the next ':', the rest is the id).</summary>
    public static FieldContext Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int dot = text.IndexOf('.', StringComparison.Ordinal);
        int colon = dot < 0 ? -1 : text.IndexOf(':', dot + 1);
        if (dot <= 0 || colon <= dot + 1)
        {
            throw new MalformedInputException("A field context is written TABLE.COLUMN:ID.");
        }
        return new FieldContext(text[..dot], text[(dot + 1)..colon], text[(colon + 1)..]);
    }

    /// <summary>Writes u16be(len) ‖ table ‖ u16be(len) ‖ column ‖ u16be(len) ‖ record id; returns the bytes written.</summary>
    internal int Write(Span<byte> destination)
    {
        int offset = WritePart(Table, destination);
        offset += WritePart(Column, destination[offset..]);
        offset += WritePart(RecordId, destination[offset..]);
        return offset;
    }

    public override string ToString() => $"{Table}.{Column}:<record>";

    private static int WritePart(string part, Span<byte> destination)
    {
        int length = Encoding.UTF8.GetBytes(part, destination[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)length);
        return 2 + length;
    }

    private static string CheckPart(string value, string name, bool allowEmpty)
    {
        ArgumentNullException.ThrowIfNull(value, name);
        if ((!allowEmpty && value.Length == 0) || Encoding.UTF8.GetByteCount(value) > MaxPartBytes)
        {
            throw new MalformedInputException($"A field context part ({name}) must be at most {MaxPartBytes} UTF-8 bytes; table and column must not be empty.");
        }
        return value;
    }
}
