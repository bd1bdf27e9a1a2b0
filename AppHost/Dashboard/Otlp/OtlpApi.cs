using Google.Protobuf;
using Microsoft.AspNetCore.Http.Features;
using OpenTelemetry.Proto.Collector.Logs.V1;
using OpenTelemetry.Proto.Collector.Metrics.V1;
using OpenTelemetry.Proto.Collector.Trace.V1;
using Pii.AppHost.Dashboard.Telemetry;

namespace Pii.AppHost.Dashboard.Otlp;

/// <summary>
/// OTLP/HTTP receiver (the spec's <c>POST /v1/traces</c>, <c>/v1/logs</c>, <c>/v1/metrics</c>): binary protobuf
/// (what the .NET exporter sends) or OTLP/JSON. Every request must carry the API key in <c>x-otlp-api-key</c> when one
/// is configured. Replies: 200 + an empty Export*ServiceResponse in the request's encoding; 401 bad key;
/// 400 undecodable body; 413 body over the limit; 415 other content types or compressed bodies.
/// </summary>
public static class OtlpApi
{
    public const string ApiKeyHeader = "x-otlp-api-key";
    private const string ProtobufContentType = "application/x-protobuf";
    private const string JsonContentType = "application/json";

    public static IEndpointRouteBuilder MapOtlpApi(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/v1").AddEndpointFilter<OtlpApiKeyFilter>();
        group.MapPost("/traces", ReceiveTracesAsync);
        group.MapPost("/logs", ReceiveLogsAsync);
        group.MapPost("/metrics", ReceiveMetricsAsync);
        return endpoints;
    }

    private static Task<IResult> ReceiveTracesAsync(HttpContext context, OtlpConverter converter, TelemetryStore store, DashboardOptions options) =>
        ReceiveAsync(context, options.MaxOtlpRequestBytes, ExportTraceServiceRequest.Parser, request =>
        {
            store.AddSpans(converter.Convert(request));
            return new ExportTraceServiceResponse();
        });

    private static Task<IResult> ReceiveLogsAsync(HttpContext context, OtlpConverter converter, TelemetryStore store, DashboardOptions options) =>
        ReceiveAsync(context, options.MaxOtlpRequestBytes, ExportLogsServiceRequest.Parser, request =>
        {
            store.AddLogs(converter.Convert(request));
            return new ExportLogsServiceResponse();
        });

    private static Task<IResult> ReceiveMetricsAsync(HttpContext context, OtlpConverter converter, TelemetryStore store, DashboardOptions options) =>
        ReceiveAsync(context, options.MaxOtlpRequestBytes, ExportMetricsServiceRequest.Parser, request =>
        {
            foreach (var (key, description, unit, kind, point) in converter.Convert(request))
            {
                store.AddMetricPoint(key, description, unit, kind, point);
            }
            return new ExportMetricsServiceResponse();
        });

    private static async Task<IResult> ReceiveAsync<TRequest>(HttpContext context, long limit, MessageParser<TRequest> parser, Func<TRequest, IMessage> store)
        where TRequest : IMessage<TRequest>, new()
    {
        var contentType = context.Request.ContentType?.Split(';')[0].Trim();
        var isJson = string.Equals(contentType, JsonContentType, StringComparison.OrdinalIgnoreCase);
        if (!isJson && !string.Equals(contentType, ProtobufContentType, StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem($"OTLP/HTTP accepts {ProtobufContentType} or {JsonContentType}.", statusCode: StatusCodes.Status415UnsupportedMediaType);
        }
        if (context.Request.Headers.ContentEncoding.Count > 0 && context.Request.Headers.ContentEncoding != "identity")
        {
            return TypedResults.Problem("Compressed OTLP bodies are not accepted.", statusCode: StatusCodes.Status415UnsupportedMediaType);
        }

        if (context.Request.ContentLength > limit)
        {
            return TypedResults.Problem("The OTLP request is too large.", statusCode: StatusCodes.Status413PayloadTooLarge);
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = limit;
        }

        TRequest request;
        try
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            var bytes = body.GetBuffer().AsSpan(0, (int)body.Length);
            request = isJson ? OtlpJson.Parse<TRequest>(bytes) : parser.ParseFrom(bytes);
        }
        catch (BadHttpRequestException tooLarge) when (tooLarge.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TypedResults.Problem("The OTLP request is too large.", statusCode: StatusCodes.Status413PayloadTooLarge);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or OtlpJsonException)
        {
            return TypedResults.Problem($"The body is not a valid OTLP {(isJson ? "JSON" : "protobuf")} message.", statusCode: StatusCodes.Status400BadRequest);
        }

        var response = store(request);
        return isJson
            ? TypedResults.Text(JsonFormatter.Default.Format(response), JsonContentType)
            : TypedResults.Bytes(response.ToByteArray(), ProtobufContentType);
    }
}

/// <summary>Checks <c>x-otlp-api-key</c> in constant time when the dashboard has an OTLP API key.</summary>
internal sealed class OtlpApiKeyFilter(DashboardOptions options) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (options.OtlpApiKey is { Length: > 0 } expected)
        {
            var presented = context.HttpContext.Request.Headers[OtlpApi.ApiKeyHeader].ToString();
            if (!Secrets.FixedTimeEquals(presented, expected))
            {
                return ValueTask.FromResult<object?>(TypedResults.Problem("Missing or wrong OTLP API key.", statusCode: StatusCodes.Status401Unauthorized));
            }
        }
        return next(context);
    }
}
