using System.Diagnostics;
using OpenTelemetry;

namespace Pii.ServiceDefaults.Redaction;

/// <summary>
/// Applies <see cref="RedactionPolicy"/> to every span's tags before export. Event attributes are immutable once
/// added; a <see cref="Sensitive{T}"/> in them still exports as <see cref="Sensitive.Redacted"/> through its ToString.
/// </summary>
internal sealed class RedactingSpanProcessor : BaseProcessor<Activity>
{
    public override void OnEnd(Activity data)
    {
        List<(string Key, object? Value)>? changes = null;
        foreach (var tag in data.TagObjects)
        {
            var action = RedactionPolicy.Apply(tag.Key, tag.Value, out var replacement);
            if (action != RedactionPolicy.Action.Keep)
            {
                (changes ??= []).Add((tag.Key, action == RedactionPolicy.Action.Drop ? null : replacement));
            }
        }
        if (changes is null)
        {
            return;
        }
        foreach (var (key, value) in changes)
        {
            data.SetTag(key, value); // null removes the tag
        }
    }
}
