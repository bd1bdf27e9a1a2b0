using System.Text;
using Pii.Crypto.Fields;
using Pii.Crypto.Fpe;
using Pii.Crypto.Keys;

namespace Pii.Crypto.Tiers;

/// <summary>
/// Applies each column's declared tier: tier 1 passes the value through, tier 2 encrypts it under the purpose's
/// KMS-wrapped DEK, tier 3 first encrypts it under the application key (held by the service, never sent to the key
/// service) and then encrypts that ciphertext under the DEK. Both layers bind the same cell context. A
/// format-preserving column stores the FF1 token of the value's UTF-8 text under the service's FPE key, in the
/// column's <see cref="FpeProfile"/> with the table/column tweak (the record id is not bound: the token is
/// deterministic per column by design).
/// </summary>
/// <remarks>
/// Tier 3 layout: outer field ciphertext (DEK) whose plaintext is an inner field ciphertext (application key), both
/// in the <see cref="FieldCipher"/> format; overhead is the sum of both layers.
/// </remarks>
public sealed class TieredFieldProtector
{
    private readonly PiiSchema _schema;
    private readonly DekManager _deks;
    private readonly FieldKey? _applicationKey;
    private readonly Ff1? _fpeKey;

    /// <param name="schema">The validated schema.</param>
    /// <param name="deks">Tier-2 DEKs (wrapped by the key service).</param>
    /// <param name="applicationKey">The tier-3 inner key; required when the schema has a tier-3 column.</param>
    /// <param name="fpeKey">The FF1 key (AES-256); required when the schema has a format-preserving column.</param>
    public TieredFieldProtector(PiiSchema schema, DekManager deks, FieldKey? applicationKey, Ff1? fpeKey = null)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(deks);
        if (applicationKey is null && schema.Tiers.Values.Contains(Tier.Three))
        {
            throw new InvalidOperationException("The schema has tier-3 columns but no application key was configured.");
        }
        if (fpeKey is null && schema.Tiers.Values.Contains(Tier.FormatPreserving))
        {
            throw new InvalidOperationException("The schema has format-preserving columns but no FPE key was configured.");
        }
        _schema = schema;
        _deks = deks;
        _applicationKey = applicationKey;
        _fpeKey = fpeKey;
    }

    /// <summary>
    /// Protects a value for storage. Tier 1 returns it unchanged; null stays null in every tier. A format-preserving
    /// column takes UTF-8 text and only <see cref="FieldMode.Deterministic"/>, because that is what FF1 is.
    /// </summary>
    public async Task<byte[]?> ProtectAsync(string purpose, FieldMode mode, byte[]? value, FieldContext context, CancellationToken cancellationToken = default)
    {
        switch (_schema.TierOf(context.Table, context.Column))
        {
            case Tier.One:
                return value;
            case Tier.Two:
                return await _deks.EncryptAsync(purpose, mode, value, context, cancellationToken).ConfigureAwait(false);
            case Tier.FormatPreserving:
                if (mode != FieldMode.Deterministic)
                {
                    throw new InvalidOperationException($"Column {context.Table}.{context.Column} is format-preserving, which is deterministic only.");
                }
                return FormatPreserving(value, context, decrypt: false);
            default:
                byte[]? inner = FieldCipher.Encrypt(_applicationKey!, mode, value, context);
                return await _deks.EncryptAsync(purpose, mode, inner, context, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reverses <see cref="ProtectAsync"/> for the column's tier.</summary>
    public async Task<byte[]?> UnprotectAsync(byte[]? stored, FieldContext context, CancellationToken cancellationToken = default)
    {
        switch (_schema.TierOf(context.Table, context.Column))
        {
            case Tier.One:
                return stored;
            case Tier.Two:
                return await _deks.DecryptAsync(stored, context, cancellationToken).ConfigureAwait(false);
            case Tier.FormatPreserving:
                return FormatPreserving(stored, context, decrypt: true);
            default:
                byte[]? inner = await _deks.DecryptAsync(stored, context, cancellationToken).ConfigureAwait(false);
                return FieldCipher.Decrypt(_applicationKey!, inner, context);
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private byte[]? FormatPreserving(byte[]? value, FieldContext context, bool decrypt)
    {
        if (value is null)
        {
            return null;
        }
        string text;
        try
        {
            text = StrictUtf8.GetString(value);
        }
        catch (DecoderFallbackException)
        {
            throw new MalformedInputException("A format-preserving value is UTF-8 text.");
        }
        FpeProfile profile = _schema.FpeProfileOf(context.Table, context.Column);
        string result = decrypt
            ? profile.Decrypt(_fpeKey!, text, context.Table, context.Column)
            : profile.Encrypt(_fpeKey!, text, context.Table, context.Column);
        return Encoding.UTF8.GetBytes(result);
    }
}
