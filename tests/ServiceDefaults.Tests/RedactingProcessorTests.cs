using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Trace;
using Pii.ServiceDefaults.Redaction;

namespace Pii.ServiceDefaults.Tests;

/// <summary>The processors on a real OpenTelemetry pipeline, with a collecting exporter after them.</summary>
public sealed partial class RedactingProcessorTests
{
    private sealed class Collector<T>(Action<T> collect) : BaseExporter<T> where T : class
    {
        public override ExportResult Export(in Batch<T> batch)
        {
            foreach (var item in batch)
            {
                collect(item);
            }
            return ExportResult.Success;
        }
    }

    [Fact]
    public void Span_tags_lose_queries_bodies_and_sensitive_values()
    {
        var sourceName = $"redaction-test-{Guid.NewGuid():N}";
        var exported = new List<Dictionary<string, object?>>();
        using (var tracing = Sdk.CreateTracerProviderBuilder()
            .AddSource(sourceName)
            .AddProcessor(new RedactingSpanProcessor())
            .AddProcessor(new SimpleActivityExportProcessor(new Collector<Activity>(a => exported.Add(a.TagObjects.ToDictionary(t => t.Key, t => t.Value))))
            ).Build())
        using (var source = new ActivitySource(sourceName))
        using (var activity = source.StartActivity("call"))
        {
            activity!.SetTag("url.full", "https://kms.local/v1/x?ssn=123-45-6789");
            activity.SetTag("url.query", "ssn=123-45-6789");
            activity.SetTag("http.request.body", "{\"ssn\":\"123-45-6789\"}");
            activity.SetTag("patient.name", Sensitive.Of("Ada Lovelace"));
            activity.SetTag("url.path", "/v1/x");
        }

        var tags = Assert.Single(exported);
        Assert.Equal("https://kms.local/v1/x", tags["url.full"]);
        Assert.False(tags.ContainsKey("url.query"));
        Assert.False(tags.ContainsKey("http.request.body"));
        Assert.Equal(Sensitive.Redacted, tags["patient.name"]);
        Assert.Equal("/v1/x", tags["url.path"]);
    }

    [Fact]
    public void Log_records_lose_query_strings_in_attributes_and_message_and_sensitive_values()
    {
        var exported = new List<(string? Message, List<KeyValuePair<string, object?>> Attributes)>();
        using (var factory = LoggerFactory.Create(logging => logging.AddOpenTelemetry(o =>
        {
            o.IncludeFormattedMessage = true;
            o.AddProcessor(new RedactingLogProcessor());
            o.AddProcessor(new SimpleLogRecordExportProcessor(new Collector<LogRecord>(r => exported.Add((r.FormattedMessage, r.Attributes!.ToList())))));
        })))
        {
            var logger = factory.CreateLogger("test");
            LogCall(logger, new Uri("http://formapi/patients?email=ada%40example.org"), "?email=ada%40example.org", Sensitive.Of("Ada Lovelace"));
        }

        var (message, attributes) = Assert.Single(exported);
        Assert.Equal("Calling http://formapi/patients with  for [redacted]", message);
        Assert.Equal("http://formapi/patients", attributes.Single(a => a.Key == "Uri").Value);
        Assert.DoesNotContain(attributes, a => a.Key == "QueryString");
        Assert.Equal(Sensitive.Redacted, attributes.Single(a => a.Key == "Patient").Value);
    }

    [Fact]
    public void Sensitive_values_never_print()
    {
        var ssn = Sensitive.Of("123-45-6789");

        Assert.Equal("[redacted]", ssn.ToString());
        Assert.Equal("[redacted]", $"{ssn}");
        Assert.Equal("123-45-6789", ssn.Value);
    }

    [LoggerMessage(LogLevel.Information, "Calling {Uri} with {QueryString} for {Patient}")]
    private static partial void LogCall(ILogger logger, Uri uri, string queryString, Sensitive<string> patient);
}
