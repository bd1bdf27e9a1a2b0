using Pii.Crypto.Fpe;

namespace Pii.Crypto.Tiers;

/// <summary>
/// The declared protection of every column a service stores: which columns are PII and which tier each column gets.
/// Built once at start-up; <see cref="Builder.Build"/> throws when a PII column has no tier or is declared clear,
/// so a service cannot start with an unprotected PII field.
/// </summary>
public sealed class PiiSchema
{
    private readonly Dictionary<(string Table, string Column), Tier> _tiers;
    private readonly Dictionary<(string Table, string Column), FpeProfile> _fpeProfiles;

    private PiiSchema(Dictionary<(string Table, string Column), Tier> tiers, Dictionary<(string Table, string Column), FpeProfile> fpeProfiles)
    {
        _tiers = tiers;
        _fpeProfiles = fpeProfiles;
    }

    public static Builder CreateBuilder() => new();

    /// <summary>The tier declared for a column; throws when the column was never declared.</summary>
    public Tier TierOf(string table, string column) =>
        _tiers.TryGetValue((table, column), out Tier tier)
            ? tier
            : throw new InvalidOperationException($"Column {table}.{column} has no declared tier.");

    public IReadOnlyDictionary<(string Table, string Column), Tier> Tiers => _tiers;

    /// <summary>The format-preserving profile of a <see cref="Tier.FormatPreserving"/> column.</summary>
    public FpeProfile FpeProfileOf(string table, string column) =>
        _fpeProfiles.TryGetValue((table, column), out FpeProfile? profile)
            ? profile
            : throw new InvalidOperationException($"Column {table}.{column} is not a format-preserving column.");

    public sealed class Builder
    {
        private readonly Dictionary<(string Table, string Column), Tier> _tiers = [];
        private readonly HashSet<(string Table, string Column)> _pii = [];
        private readonly Dictionary<(string Table, string Column), FpeProfile> _fpeProfiles = [];

        internal Builder()
        {
        }

        /// <summary>Declares a column's tier.</summary>
        public Builder Field(string table, string column, Tier tier)
        {
            ArgumentException.ThrowIfNullOrEmpty(table);
            ArgumentException.ThrowIfNullOrEmpty(column);
            if (!Enum.IsDefined(tier))
            {
                throw new ArgumentOutOfRangeException(nameof(tier));
            }
            if (tier == Tier.FormatPreserving)
            {
                throw new ArgumentException("Declare a format-preserving column with FpeField, which names its profile.", nameof(tier));
            }
            if (!_tiers.TryAdd((table, column), tier))
            {
                throw new InvalidOperationException($"Column {table}.{column} is declared twice.");
            }
            return this;
        }

        /// <summary>Marks a column as holding PII: it must also get tier 2 or 3 through <see cref="Field"/>.</summary>
        public Builder Pii(string table, string column)
        {
            ArgumentException.ThrowIfNullOrEmpty(table);
            ArgumentException.ThrowIfNullOrEmpty(column);
            _pii.Add((table, column));
            return this;
        }

        /// <summary>
        /// Declares a PII column stored as an FF1 token in <paramref name="profile"/>'s format (<see cref="Tier.FormatPreserving"/>).
        /// </summary>
        public Builder FpeField(string table, string column, FpeProfile profile)
        {
            ArgumentNullException.ThrowIfNull(profile);
            Pii(table, column);
            if (!_tiers.TryAdd((table, column), Tier.FormatPreserving))
            {
                throw new InvalidOperationException($"Column {table}.{column} is declared twice.");
            }
            _fpeProfiles.Add((table, column), profile);
            return this;
        }

        /// <summary>Declares a PII column with its tier in one call.</summary>
        public Builder PiiField(string table, string column, Tier tier) => Pii(table, column).Field(table, column, tier);

        /// <summary>Validates and freezes the schema.</summary>
        /// <exception cref="InvalidOperationException">A PII column has no tier, or is declared tier 1 (clear).</exception>
        public PiiSchema Build()
        {
            var problems = new List<string>();
            foreach ((string table, string column) in _pii.OrderBy(c => c.Table, StringComparer.Ordinal).ThenBy(c => c.Column, StringComparer.Ordinal))
            {
                if (!_tiers.TryGetValue((table, column), out Tier tier))
                {
                    problems.Add($"PII column {table}.{column} has no tier");
                }
                else if (tier == Tier.One)
                {
                    problems.Add($"PII column {table}.{column} is declared tier 1 (clear)");
                }
            }
            if (problems.Count > 0)
            {
                throw new InvalidOperationException("PII schema is invalid: " + string.Join("; ", problems) + ".");
            }
            return new PiiSchema(new Dictionary<(string Table, string Column), Tier>(_tiers),
                new Dictionary<(string Table, string Column), FpeProfile>(_fpeProfiles));
        }
    }
}
