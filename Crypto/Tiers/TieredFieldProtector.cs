using Pii.Crypto.Fields;
using Pii.Crypto.Keys;

namespace Pii.Crypto.Tiers;

/// <summary>
/// Applies each column's declared tier: tier 1 passes the value through, tier 2 encrypts it under the purpose's
/// KMS-wrapped DEK, tier 3 first encrypts it under the application key (held by the service, never sent to the key
/// service) and then encrypts that ciphertext under the DEK. Both layers bind the same cell context.
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

    /// <param name="schema">The validated schema.</param>
    /// <param name="deks">Tier-2 DEKs (wrapped by the key service).</param>
    /// <param name="applicationKey">The tier-3 inner key; required when the schema has a tier-3 column.</param>
    public TieredFieldProtector(PiiSchema schema, DekManager deks, FieldKey? applicationKey)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(deks);
        if (applicationKey is null && schema.Tiers.Values.Contains(Tier.Three))
        {
            throw new InvalidOperationException("The schema has tier-3 columns but no application key was configured.");
        }
        _schema = schema;
        _deks = deks;
        _applicationKey = applicationKey;
    }

    /// <summary>Protects a value for storage. Tier 1 returns it unchanged; null stays null in every tier.</summary>
    public async Task<byte[]?> ProtectAsync(string purpose, FieldMode mode, byte[]? value, FieldContext context, CancellationToken cancellationToken = default)
    {
        switch (_schema.TierOf(context.Table, context.Column))
        {
            case Tier.One:
                return value;
            case Tier.Two:
                return await _deks.EncryptAsync(purpose, mode, value, context, cancellationToken).ConfigureAwait(false);
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
            default:
                byte[]? inner = await _deks.DecryptAsync(stored, context, cancellationToken).ConfigureAwait(false);
                return FieldCipher.Decrypt(_applicationKey!, inner, context);
        }
    }
}
