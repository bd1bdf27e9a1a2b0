using OpenTelemetry;
using OpenTelemetry.Logs;

namespace Pii.ServiceDefaults.Redaction;

/// <summary>
/// Applies <see cref="RedactionPolicy"/> to every log record's attributes before export, and cuts the removed query
/// strings out of the formatted message as well (the message was rendered from the same values).
/// </summary>
internal sealed class RedactingLogProcessor : BaseProcessor<LogRecord>
{
    public override void OnEnd(LogRecord data)
    {
        if (data.Attributes is not { Count: > 0 } attributes)
        {
            return;
        }

        List<KeyValuePair<string, object?>>? redacted = null;
        List<string>? removedQueries = null;
        for (var i = 0; i < attributes.Count; i++)
        {
            var (key, value) = attributes[i];
            var action = RedactionPolicy.Apply(key, value, out var replacement);
            if (action == RedactionPolicy.Action.Keep && redacted is null)
            {
                continue;
            }
            if (redacted is null)
            {
                redacted = new List<KeyValuePair<string, object?>>(attributes.Count);
                for (var j = 0; j < i; j++)
                {
                    redacted.Add(attributes[j]);
                }
            }
            if (RedactionPolicy.QueryPartOf(key, value) is { } query)
            {
                (removedQueries ??= []).Add(query);
            }
            switch (action)
            {
                case RedactionPolicy.Action.Keep: redacted.Add(attributes[i]); break;
                case RedactionPolicy.Action.Replace: redacted.Add(new(key, replacement)); break;
                case RedactionPolicy.Action.Drop: break;
            }
        }

        if (redacted is null)
        {
            return;
        }
        data.Attributes = redacted;
        if (removedQueries is not null && data.FormattedMessage is { } message)
        {
            foreach (var query in removedQueries)
            {
                message = message.Replace(query, "", StringComparison.Ordinal);
            }
            data.FormattedMessage = message;
        }
    }
}
