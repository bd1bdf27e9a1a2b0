namespace Pii.ServiceDefaults.Redaction;

/// <summary>Marks a value as personal data: it prints as <see cref="Sensitive.Redacted"/> wherever it is formatted.</summary>
public interface ISensitive;

/// <summary>
/// A PII value tagged for the redaction policy. Pass it to loggers (<c>logger.LogInformation("{Patient}",
/// Sensitive.Of(name))</c>) or span tags instead of the raw value: its <see cref="ToString"/> never reveals the value,
/// so the console, every log provider and the OTLP exporters see only <see cref="Sensitive.Redacted"/>; the
/// redacting processors additionally replace the object itself before export.
/// </summary>
public readonly struct Sensitive<T>(T value) : ISensitive, IEquatable<Sensitive<T>>
{
    /// <summary>The raw value, for the code that legitimately needs it (never for telemetry).</summary>
    public T Value { get; } = value;

    public override string ToString() => Sensitive.Redacted;

    public bool Equals(Sensitive<T> other) => EqualityComparer<T>.Default.Equals(Value, other.Value);

    public override bool Equals(object? obj) => obj is Sensitive<T> other && Equals(other);

    public override int GetHashCode() => Value is null ? 0 : EqualityComparer<T>.Default.GetHashCode(Value);

    public static bool operator ==(Sensitive<T> left, Sensitive<T> right) => left.Equals(right);

    public static bool operator !=(Sensitive<T> left, Sensitive<T> right) => !left.Equals(right);
}

public static class Sensitive
{
    public const string Redacted = "[redacted]";

    public static Sensitive<T> Of<T>(T value) => new(value);
}
