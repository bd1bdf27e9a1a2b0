namespace Pii.EntityFrameworkCore.Internal;

/// <summary>Model annotation names: the declared ones (on the user's property) and the resolved ones (on the shadow columns).</summary>
internal static class PiiAnnotations
{
    private const string Prefix = "Pii:";

    public const string Tier = Prefix + "Tier";
    public const string Mode = Prefix + "Mode";
    public const string Purpose = Prefix + "Purpose";
    public const string BlindIndex = Prefix + "BlindIndex";
    public const string BlindIndexUnique = Prefix + "BlindIndexUnique";
    public const string Personal = Prefix + "Personal";

    /// <summary>On the ciphertext shadow property: the CLR property it stores.</summary>
    public const string CiphertextOf = Prefix + "CiphertextOf";

    /// <summary>On the blind-index shadow property: the CLR property it indexes.</summary>
    public const string IndexOf = Prefix + "IndexOf";

    /// <summary>On the ciphertext shadow property: table and column bound into the associated data.</summary>
    public const string Table = Prefix + "Table";
    public const string Column = Prefix + "Column";

    public static string CiphertextProperty(string clrName) => clrName + "__Encrypted";

    public static string IndexProperty(string clrName) => clrName + "__Index";
}
