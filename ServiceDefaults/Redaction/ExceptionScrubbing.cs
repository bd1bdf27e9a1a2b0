using System.Diagnostics;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Trace;

namespace Pii.ServiceDefaults.Redaction;

/// <summary>
/// Request content reaches exception messages (a malformed multipart header line, a value that failed to bind, a
/// driver error quoting a value) and path segments (an identifier typed where a GUID belongs). Before export:
/// <list type="bullet">
/// <item>a log record's exception keeps its type and stack trace but not its message (<see cref="ScrubbedException"/>);</item>
/// <item>exceptions recorded on spans (<see cref="Activity.AddException"/>) get the same treatment through an
/// <see cref="ActivityListener.ExceptionRecorder"/>;</item>
/// <item><c>url.path</c> on spans and <c>RequestPath</c>/<c>Path</c> on log records keep only segments that look like
/// route literals (ASCII letters, '-', '_') or GUIDs; every other segment becomes <see cref="RedactedSegment"/>.</item>
/// </list>
/// Register with one line per pipeline: <c>logging.AddExceptionScrubbing()</c>, <c>tracing.AddExceptionScrubbing()</c>,
/// before the exporter.
/// </summary>
public static class TelemetryScrubbing
{
    public const string RedactedSegment = "[redacted]";
    private const int MaxLiteralSegment = 64;

    private static readonly HashSet<string> PathAttributeNames = new(["url.path", "RequestPath", "Path"], StringComparer.Ordinal);

    public static OpenTelemetryLoggerOptions AddExceptionScrubbing(this OpenTelemetryLoggerOptions options) =>
        options.AddProcessor(new ScrubbingLogProcessor());

    public static TracerProviderBuilder AddExceptionScrubbing(this TracerProviderBuilder builder) =>
        builder.AddProcessor(new ScrubbingSpanProcessor());

    /// <summary>The path with every segment that is not a route-literal-like word or a GUID replaced.</summary>
    public static string ScrubPath(string path) =>
        string.Join('/', path.Split('/').Select(segment => segment.Length == 0 || IsLiteral(segment) || IsGuid(segment) ? segment : RedactedSegment));

    private static bool IsLiteral(string segment) =>
        segment.Length <= MaxLiteralSegment && segment.All(c => char.IsAsciiLetter(c) || c is '-' or '_');

    private static bool IsGuid(string segment) => Guid.TryParseExact(segment, "D", out _) || Guid.TryParseExact(segment, "N", out _);

    internal static bool IsPathAttribute(string key) => PathAttributeNames.Contains(key);

    /// <summary>Stands in for an exception on export: same type name and stack trace, no message.</summary>
    public sealed class ScrubbedException(Exception original) : Exception($"{original.GetType().FullName}: message removed (it may quote request data).")
    {
        public string OriginalType { get; } = original.GetType().FullName ?? original.GetType().Name;

        public override string? StackTrace { get; } = original.StackTrace;

        public override string ToString() => $"{OriginalType}: message removed{Environment.NewLine}{StackTrace}";
    }

    private sealed class ScrubbingLogProcessor : BaseProcessor<LogRecord>
    {
        public override void OnEnd(LogRecord data)
        {
            if (data.Exception is { } exception and not ScrubbedException)
            {
                data.Exception = new ScrubbedException(exception);
            }
            if (data.Attributes is { Count: > 0 } attributes && attributes.Any(a => IsPathAttribute(a.Key) && a.Value is string))
            {
                data.Attributes = [.. attributes.Select(a => IsPathAttribute(a.Key) && a.Value is string path
                    ? new KeyValuePair<string, object?>(a.Key, ScrubPath(path)) : a)];
            }
        }
    }

    private sealed class ScrubbingSpanProcessor : BaseProcessor<Activity>
    {
        private readonly ActivityListener _listener = new()
        {
            ShouldListenTo = _ => true,
            // Never changes sampling: other listeners (the SDK's) decide.
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.None,
            ExceptionRecorder = (Activity _, Exception exception, ref TagList tags) =>
            {
                // Set before Activity.AddException adds its defaults, so the message and the raw stack text never land.
                var scrubbed = new ScrubbedException(exception);
                tags.Add("exception.type", scrubbed.OriginalType);
                tags.Add("exception.message", scrubbed.Message);
                tags.Add("exception.stacktrace", scrubbed.ToString());
            },
        };

        public ScrubbingSpanProcessor() => ActivitySource.AddActivityListener(_listener);

        public override void OnEnd(Activity data)
        {
            if (data.GetTagItem("url.path") is string path)
            {
                var scrubbed = ScrubPath(path);
                if (!string.Equals(scrubbed, path, StringComparison.Ordinal)) data.SetTag("url.path", scrubbed);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _listener.Dispose();
            base.Dispose(disposing);
        }
    }
}
