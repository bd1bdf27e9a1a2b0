using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Resource.V1;
using OpenTelemetry.Proto.Trace.V1;

namespace Pii.AppHost.Tests.Dashboard;

[Collection(DashboardGroup.Name)]
public sealed class OtlpReceiverTests(DashboardFixture fixture)
{
    private static ExportTraceServiceRequest OneSpan(string traceIdHex, string serviceName)
    {
        var span = new Span
        {
            TraceId = ByteString.CopyFrom(Convert.FromHexString(traceIdHex)),
            SpanId = ByteString.CopyFrom(Convert.FromHexString("0102030405060708")),
            Name = "handmade",
            Kind = Span.Types.SpanKind.Internal,
            StartTimeUnixNano = 1_700_000_000_000_000_000,
            EndTimeUnixNano = 1_700_000_000_005_000_000,
        };
        var resource = new Resource();
        resource.Attributes.Add(new KeyValue { Key = "service.name", Value = new AnyValue { StringValue = serviceName } });
        var request = new ExportTraceServiceRequest();
        request.ResourceSpans.Add(new ResourceSpans { Resource = resource, ScopeSpans = { new ScopeSpans { Spans = { span } } } });
        return request;
    }

    private async Task<HttpResponseMessage> PostAsync(string path, byte[] body, string? apiKey, string contentType = "application/x-protobuf")
    {
        using var http = new HttpClient { BaseAddress = fixture.Dashboard.OtlpUrl };
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        if (apiKey is not null)
        {
            request.Headers.Add("x-otlp-api-key", apiKey);
        }
        return await http.SendAsync(request);
    }

    [Fact]
    public async Task Missing_or_wrong_api_key_is_rejected_and_nothing_is_stored()
    {
        const string traceId = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa01";
        var body = OneSpan(traceId, "intruder").ToByteArray();

        var missing = await PostAsync("/v1/traces", body, apiKey: null);
        var wrong = await PostAsync("/v1/traces", body, apiKey: DashboardFixture.OtlpApiKey + "x");
        var prefix = await PostAsync("/v1/traces", body, apiKey: DashboardFixture.OtlpApiKey[..^1]);

        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, prefix.StatusCode);
        Assert.Null(fixture.Dashboard.Store.GetTrace(traceId));
    }

    [Fact]
    public async Task Right_api_key_stores_the_span_and_answers_with_a_protobuf_response()
    {
        const string traceId = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa02";

        var response = await PostAsync("/v1/traces", OneSpan(traceId, "handmade-service").ToByteArray(), DashboardFixture.OtlpApiKey);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-protobuf", response.Content.Headers.ContentType?.MediaType);
        ExportTraceServiceResponse.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
        var trace = fixture.Dashboard.Store.GetTrace(traceId);
        Assert.NotNull(trace);
        var span = Assert.Single(trace.Spans);
        Assert.Equal("handmade-service", span.Resource.ServiceName);
        Assert.Null(span.Resource.InstanceId);
        Assert.Equal(5.0, span.DurationMs, 3);
    }

    [Fact]
    public async Task Bad_bodies_get_clear_4xx()
    {
        var garbage = await PostAsync("/v1/logs", [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], DashboardFixture.OtlpApiKey);
        var text = await PostAsync("/v1/metrics", "hello"u8.ToArray(), DashboardFixture.OtlpApiKey, "text/plain");
        var notJson = await PostAsync("/v1/logs", "{\"resourceLogs\": ["u8.ToArray(), DashboardFixture.OtlpApiKey, "application/json");
        var badId = await PostAsync("/v1/traces", """{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not-hex"}]}]}]}"""u8.ToArray(),
            DashboardFixture.OtlpApiKey, "application/json");

        Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badId.StatusCode);
    }

    [Fact]
    public async Task Tampered_protobuf_bodies_never_cause_a_server_error()
    {
        var valid = OneSpan("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa03", "tampered").ToByteArray();
        var random = new Random(20261122);
        var statuses = new HashSet<HttpStatusCode>();
        for (var i = 0; i < 200; i++)
        {
            var body = valid[..random.Next(valid.Length + 1)];
            for (var flips = random.Next(4); flips > 0 && body.Length > 0; flips--)
            {
                body[random.Next(body.Length)] ^= (byte)(1 << random.Next(8));
            }
            var response = await PostAsync(i % 2 == 0 ? "/v1/traces" : "/v1/logs", body, DashboardFixture.OtlpApiKey);
            statuses.Add(response.StatusCode);
        }

        Assert.Subset(new HashSet<HttpStatusCode> { HttpStatusCode.OK, HttpStatusCode.BadRequest }, statuses);
    }

    [Fact]
    public async Task Otlp_json_with_hex_ids_is_accepted()
    {
        const string traceId = "5b8efff798038103d269b633813fc60c";
        var body = $$$"""
            {"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json-service"}}]},
             "scopeLogs":[{"scope":{"name":"json-scope"},"logRecords":[{"timeUnixNano":"1700000000000000000","severityNumber":13,
             "severityText":"Warning","body":{"stringValue":"hello over json"},"traceId":"{{{traceId}}}","spanId":"eee19b7ec3c1b174",
             "attributes":[{"key":"answer","value":{"intValue":"42"}}],"someFutureField":true}]}]}]}
            """;

        var response = await PostAsync("/v1/logs", System.Text.Encoding.UTF8.GetBytes(body), DashboardFixture.OtlpApiKey, "application/json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var log = Assert.Single(fixture.Dashboard.Store.GetLogs(), l => l.Message == "hello over json");
        Assert.Equal("json-service", log.Resource.ServiceName);
        Assert.Equal("Warning", log.Level);
        Assert.Equal(traceId, log.TraceId);
        Assert.Equal("eee19b7ec3c1b174", log.SpanId);
        Assert.Equal("42", log.Attributes["answer"]);
        Assert.Equal(new DateTimeOffset(2023, 11, 14, 22, 13, 20, TimeSpan.Zero), log.Time);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413()
    {
        var tooLarge = new byte[(int)new Pii.AppHost.Dashboard.DashboardOptions().MaxOtlpRequestBytes + 1];

        var response = await PostAsync("/v1/traces", tooLarge, DashboardFixture.OtlpApiKey);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Otlp_port_serves_only_otlp_and_ui_port_serves_no_otlp()
    {
        using var otlp = new HttpClient { BaseAddress = fixture.Dashboard.OtlpUrl };
        otlp.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", DashboardFixture.BrowserToken);

        Assert.Equal(HttpStatusCode.NotFound, (await otlp.GetAsync("/api/resources")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Api.PostAsync("/v1/traces", new ByteArrayContent([]))).StatusCode);
    }
}
