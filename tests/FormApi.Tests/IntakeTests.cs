using Pii.AppHost.Hosting;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using MySqlConnector;
using Pii.Crypto.Transit;
using Pii.Testing;

namespace Pii.FormApi.Tests;

[Collection(FormApiGroup.Name)]
public sealed class IntakeTests(FormApiFixture fixture)
{
    [Fact]
    public async Task Submit_stores_only_ciphertext_bound_to_its_cell()
    {
        var phone = FormApiFixture.UniquePhone();
        var email = $"zelda.{Guid.NewGuid():N}@example.org";
        var body = $$"""{"first_name":"Zelphinia","middle_name":"Quorra","last_name":"Vantablack","phone":"{{phone}}","email":"{{email}}","phone_dnc":true,"email_dnc":false}""";
        var id = await fixture.SubmitAsync(body);

        await using var owner = await fixture.OpenOwnerAsync();
        var row = await owner.QueryFirstAsync("SELECT * FROM dnc_preferences WHERE id = @id", new { id = id.ToByteArray(bigEndian: true) });
        var cells = (IDictionary<string, object>)row;
        var allBytes = cells.Values.OfType<byte[]>().SelectMany(b => b).ToArray();
        foreach (var plaintext in new[] { "Zelphinia", "Quorra", "Vantablack", phone, phone[1..], email, "zelda" })
        {
            Assert.Equal(-1, allBytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(plaintext)));
        }
        foreach (var column in new[] { "first_name", "middle_name", "last_name", "phone", "email" })
        {
            var ciphertext = (byte[])cells[column];
            Assert.Equal(0x11, ciphertext[0]); // format v1, randomized
        }
        Assert.Equal(16, ((byte[])cells["phone_bidx"]).Length);
        Assert.True((bool)cells["phone_dnc"]);
        Assert.False((bool)cells["email_dnc"]);
        Assert.Equal(1, (int)cells["row_version"]);
        Assert.Equal(7, id.Version);
    }

    [Fact]
    public async Task Submit_route_of_the_proof_of_concept_answers_status_ok()
    {
        using var client = fixture.Intake.CreateClient();
        using var response = await client.PostAsync("/submit", FormApiFixture.Json(FormApiFixture.SeedBody(FormApiFixture.UniquePhone())));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("""{"status":"ok"}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Response_echoes_no_pii()
    {
        using var client = fixture.Intake.CreateClient();
        using var response = await client.PostAsync("/api/dnc", FormApiFixture.Json(FormApiFixture.SeedBody("+15550001111", "echo.check@example.com", "Echolalia")));
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("Echolalia", text, StringComparison.Ordinal);
        Assert.DoesNotContain("echo.check", text, StringComparison.Ordinal);
        Assert.DoesNotContain("5550001111", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Intake_cannot_decrypt_a_stored_row_with_its_own_credentials()
    {
        var id = await fixture.SubmitAsync(FormApiFixture.SeedBody(FormApiFixture.UniquePhone()));

        // Its database user may not read the row back…
        await using (var intakeDb = new MySqlConnection(fixture.IntakeDb.Resource.ConnectionString))
        {
            await intakeDb.OpenAsync();
            var select = await Assert.ThrowsAsync<MySqlException>(() => intakeDb.QueryAsync("SELECT phone FROM dnc_preferences"));
            Assert.Equal(1142, select.Number);
            // (It may read which DEKs are active, for its guarded INSERT; never a wrapped DEK.)
            var keys = await Assert.ThrowsAsync<MySqlException>(() => intakeDb.QueryAsync("SELECT wrapped_dek FROM encryption_keys"));
            Assert.Equal(1143, keys.Number);
            // …nor write anywhere but its two tables (no fake migration, job or erasure records).
            foreach (var insert in (string[])["INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'x', UTC_TIMESTAMP())",
                "INSERT INTO dnc_erasures (id, erased_at) VALUES (0x00, UTC_TIMESTAMP())", "INSERT INTO pii_access_log (role) VALUES ('x')"])
            {
                var denied = await Assert.ThrowsAsync<MySqlException>(() => intakeDb.ExecuteAsync(insert));
                Assert.Equal(1142, denied.Number);
            }
        }

        // …and even handed the wrapped DEK, its key-service token may not unwrap it.
        await using var owner = await fixture.OpenOwnerAsync();
        var wrapped = await owner.ExecuteScalarAsync<string>(
            "SELECT k.wrapped_dek FROM encryption_keys k JOIN dnc_preferences p ON p.dek_id = k.id WHERE p.id = @id", new { id = id.ToByteArray(bigEndian: true) });
        var transit = new TransitClient(new HttpClient(), new TransitClientOptions { Address = new Uri(fixture.KeyService.Address() + "/"), Token = fixture.IntakeToken.Token, MaxRetries = 0 });
        await Assert.ThrowsAsync<TransitForbiddenException>(() => transit.DecryptAsync("dnc", wrapped!));
        await Assert.ThrowsAsync<TransitForbiddenException>(() => transit.RewrapAsync("dnc", wrapped!));

        // The back office's token may (the same wrapped DEK is valid).
        var backoffice = new TransitClient(new HttpClient(), new TransitClientOptions { Address = new Uri(fixture.KeyService.Address() + "/"), Token = fixture.BackofficeToken.Token, MaxRetries = 0 });
        var dek = await backoffice.DecryptAsync("dnc", wrapped!);
        Assert.Equal(32, dek.Length);
    }

    public static TheoryData<string, string> BadBodies()
    {
        const string ok = """ "middle_name":"M","last_name":"Doe","phone":"+15551234567","email":"a@example.com","phone_dnc":true,"email_dnc":false """;
        return new TheoryData<string, string>
        {
            { $$"""{"first_name":"",{{ok}}}""", "first_name" },
            { $$"""{"first_name":"   ",{{ok}}}""", "first_name" },
            { $$"""{"first_name":"{{new string('a', 101)}}",{{ok}}}""", "first_name" },
            { $$"""{"first_name":"Al\u0007ice",{{ok}}}""", "first_name" },
            { $$"""{"first_name":"Al\ud800ice",{{ok}}}""", "first_name" },
            { $$"""{"first_name":42,{{ok}}}""", "first_name" },
            { """{"first_name":"Alice","middle_name":"M\n","last_name":"Doe","phone":"+15551234567","email":"a@example.com","phone_dnc":true,"email_dnc":false}""", "middle_name" },
            { """{"first_name":"Alice","middle_name":"M","phone":"+15551234567","email":"a@example.com","phone_dnc":true,"email_dnc":false}""", "last_name" },
            { """{"first_name":"Alice","middle_name":"M","last_name":"Doe","phone":"5551234567","email":"a@example.com","phone_dnc":true,"email_dnc":false}""", "phone" },
            { """{"first_name":"Alice","middle_name":"M","last_name":"Doe","phone":"+44 (0) 20 7946 0000","email":"a@example.com","phone_dnc":true,"email_dnc":false}""", "phone" },
            { """{"first_name":"Alice","middle_name":"M","last_name":"Doe","phone":"+1555abc4567","email":"a@example.com","phone_dnc":true,"email_dnc":false}""", "phone" },
            { """{"first_name":"Alice","middle_name":"M","last_name":"Doe","phone":"+15551234567","email":"not-an-email","phone_dnc":true,"email_dnc":false}""", "email" },
            { """{"first_name":"Alice","middle_name":"M","last_name":"Doe","phone":"+15551234567","email":"a b@example.com","phone_dnc":true,"email_dnc":false}""", "email" },
            { """{"first_name":"Alice","middle_name":"M","last_name":"Doe","phone":"+15551234567","email":"a@-example.com","phone_dnc":true,"email_dnc":false}""", "email" },
            { """{"first_name":"Alice","middle_name":"M","last_name":"Doe","phone":"+15551234567","email":"a@example.com","phone_dnc":"true","email_dnc":false}""", "phone_dnc" },
            { """{"first_name":"Alice","middle_name":"M","last_name":"Doe","phone":"+15551234567","email":"a@example.com","phone_dnc":1,"email_dnc":false}""", "phone_dnc" },
            { """{"first_name":"Alice","middle_name":"M","last_name":"Doe","phone":"+15551234567","email":"a@example.com","phone_dnc":true}""", "email_dnc" },
            { """{"first_name":"Alice","middle_name":"M","last_name":"Doe","phone":"+15551234567","email":"a@example.com","phone_dnc":true,"email_dnc":null}""", "email_dnc" },
            { """{"first_name":"Alice","middle_name":"M","last_name":"Doe","phone":"+15551234567","email":"a@example.com","phone_dnc":true,"email_dnc":false,"nickname":"Al"}""", "nickname" },
            { """{"first_name":"Alice","first_name":"Bob","middle_name":"M","last_name":"Doe","phone":"+15551234567","email":"a@example.com","phone_dnc":true,"email_dnc":false}""", "first_name" },
            { """{"first_name":"Alice",""", "body" },
            { """["Alice"]""", "body" },
        };
    }

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Each_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(string body, string field)
    {
        var before = await CountRowsAsync();
        using var client = fixture.Intake.CreateClient();
        foreach (var route in new[] { "/api/dnc", "/submit" })
        {
            using var response = await client.PostAsync(route, FormApiFixture.Json(body));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"errors should name {field}: {problem}");
            Assert.Contains(field, problem.GetProperty("title").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(before, await CountRowsAsync());
    }

    [Fact]
    public async Task Oversized_and_non_json_bodies_are_refused_and_nothing_is_stored()
    {
        var before = await CountRowsAsync();
        using var client = fixture.Intake.CreateClient();
        var huge = FormApiFixture.SeedBody().Replace("\"M\"", "\"" + new string('m', 9000) + "\"", StringComparison.Ordinal);
        using (var response = await client.PostAsync("/api/dnc", FormApiFixture.Json(huge)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }
        using (var response = await client.PostAsync("/api/dnc", new StringContent(FormApiFixture.SeedBody(), Encoding.UTF8, "text/plain")))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        }
        Assert.Equal(before, await CountRowsAsync());
    }

    [Fact]
    public async Task Names_are_stored_NFC_normalised_and_phones_in_E164()
    {
        // "e" + combining acute (NFD) and a formatted phone number.
        var phone = FormApiFixture.UniquePhone();
        var formatted = $"{phone[..2]} ({phone[2..5]}) {phone[5..8]}-{phone[8..]}";
        var id = await fixture.SubmitAsync($$"""{"first_name":"Re\u0301mi","last_name":"Doe","phone":"{{formatted}}","email":"remi@example.com","phone_dnc":false,"email_dnc":true}""");
        using var supervisor = fixture.BackofficeClient("supervisor");
        var record = await supervisor.GetFromJsonAsync<JsonElement>($"/api/dnc/{id}?reveal=true&reason=test%20normalisation");
        Assert.Equal("R\u00e9mi", record.GetProperty("first_name").GetString());
        Assert.Equal(JsonValueKind.Null, record.GetProperty("middle_name").ValueKind);
        Assert.Equal(phone, record.GetProperty("phone").GetString());
    }

    [Fact]
    public async Task Submissions_are_rate_limited_per_client_address()
    {
        var limited = fixture.CreateIntake(new Dictionary<string, string> { ["FormApi:RateLimitBurst"] = "2", ["FormApi:RateLimitPerSecond"] = "1" });
        using var client = limited.CreateClient();
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 4; i++)
        {
            using var response = await client.PostAsync("/api/dnc", FormApiFixture.Json(FormApiFixture.SeedBody(FormApiFixture.UniquePhone())));
            statuses.Add(response.StatusCode);
        }
        Assert.Equal(HttpStatusCode.Created, statuses[0]);
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
    }

    [Theory]
    [InlineData("GET", "/api/dnc/0190f5c8-1111-7000-8000-000000000000")]
    [InlineData("GET", "/api/dnc/lookup?phone=%2B15551234567")]
    [InlineData("PATCH", "/api/dnc/0190f5c8-1111-7000-8000-000000000000")]
    [InlineData("DELETE", "/api/dnc/0190f5c8-1111-7000-8000-000000000000")]
    [InlineData("GET", "/api/audit")]
    [InlineData("POST", "/api/keys/rotate-kek")]
    [InlineData("POST", "/api/keys/rotate-dek")]
    [InlineData("POST", "/api/bench/plaintext-dnc")]
    public async Task Intake_answers_404_for_back_office_routes(string method, string path)
    {
        using var client = fixture.Intake.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", fixture.ApiKeys["admin"]);
        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Back_office_answers_404_for_intake_routes()
    {
        using var client = fixture.BackofficeClient("admin");
        using var response = await client.PostAsync("/api/dnc", FormApiFixture.Json(FormApiFixture.SeedBody()));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var form = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.NotFound, form.StatusCode);
    }

    [Fact]
    public async Task Both_instances_serve_their_OpenAPI_document()
    {
        using var intake = fixture.Intake.CreateClient();
        var intakeDoc = await OpenApiCoverage.AssertEveryEndpointDocumentedAsync(fixture.Intake.Services, intake);
        Assert.True(intakeDoc.GetProperty("paths").TryGetProperty("/api/dnc", out _));
        Assert.True(intakeDoc.GetProperty("paths").TryGetProperty("/submit", out _));
        Assert.False(intakeDoc.GetProperty("paths").TryGetProperty("/api/audit", out _));
        Assert.False(OpenApiCoverage.RequiresApiKey(OpenApiCoverage.Operation(intakeDoc, "POST", "/api/dnc")));

        using var backoffice = fixture.BackofficeClient(null);
        var backofficeDoc = await OpenApiCoverage.AssertEveryEndpointDocumentedAsync(fixture.Backoffice.Services, backoffice);
        Assert.True(backofficeDoc.GetProperty("paths").TryGetProperty("/api/dnc/{id}", out _));
        Assert.True(backofficeDoc.GetProperty("paths").TryGetProperty("/api/keys/rotate-kek", out _));
        Assert.True(OpenApiCoverage.RequiresApiKey(OpenApiCoverage.Operation(backofficeDoc, "GET", "/api/dnc/{id}")));
        using var docs = await backoffice.GetAsync("/docs");
        docs.EnsureSuccessStatusCode();
        Assert.Equal("text/html", docs.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Without_the_key_service_the_intake_answers_503_and_stores_nothing()
    {
        var before = await CountRowsAsync();
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var deadAddress = $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        listener.Stop();
        using var orphan = fixture.CreateIntake(new Dictionary<string, string> { ["VAULT_ADDR"] = deadAddress, ["services:vault:http:0"] = deadAddress });
        using var client = orphan.CreateClient();
        using var response = await client.PostAsync("/api/dnc", FormApiFixture.Json(FormApiFixture.SeedBody(FormApiFixture.UniquePhone())));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(before, await CountRowsAsync());
    }

    private async Task<long> CountRowsAsync()
    {
        await using var owner = await fixture.OpenOwnerAsync();
        return await owner.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM dnc_preferences");
    }
}
