using System.Net;
using System.Net.Http.Headers;

namespace Pii.AppHost.Tests.Dashboard;

[Collection(DashboardGroup.Name)]
public sealed class DashboardAuthTests(DashboardFixture fixture)
{
    private HttpClient Anonymous(CookieContainer? cookies = null) =>
        new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = cookies ?? new CookieContainer() }) { BaseAddress = fixture.Dashboard.UiUrl };

    [Theory]
    [InlineData("/api/resources")]
    [InlineData("/api/traces")]
    [InlineData("/api/logs")]
    [InlineData("/api/metrics")]
    [InlineData("/api/resources/backend/console")]
    public async Task Api_without_credentials_is_401_problem_details(string path)
    {
        using var client = Anonymous();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Wrong_bearer_token_is_rejected_and_the_right_one_accepted()
    {
        using var client = Anonymous();
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/api/resources");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", DashboardFixture.BrowserToken[..^1] + "X");
        using var right = new HttpRequestMessage(HttpMethod.Get, "/api/resources");
        right.Headers.Authorization = new AuthenticationHeaderValue("Bearer", DashboardFixture.BrowserToken);

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(wrong)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(right)).StatusCode);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/traces")]
    [InlineData("/logs")]
    [InlineData("/metrics")]
    public async Task Pages_without_login_redirect_to_the_login_page(string path)
    {
        using var client = Anonymous();

        var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/login", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task Login_with_the_token_sets_a_strict_httponly_cookie_that_opens_pages_and_api()
    {
        var cookies = new CookieContainer();
        using var client = Anonymous(cookies);

        var login = await client.GetAsync($"/login?t={DashboardFixture.BrowserToken}");

        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("/", login.Headers.Location?.OriginalString);
        var setCookie = Assert.Single(login.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(DashboardFixture.BrowserToken, setCookie, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/resources")).StatusCode);
        Assert.Equal("no-referrer", (await client.GetAsync("/")).Headers.GetValues("Referrer-Policy").Single());
    }

    [Fact]
    public async Task Login_form_accepts_the_token_and_rejects_a_wrong_one()
    {
        using var client = Anonymous();

        var wrong = await client.PostAsync("/login", new FormUrlEncodedContent([new("token", "not-the-token")]));
        var wrongQuery = await client.GetAsync("/login?t=not-the-token");
        var right = await client.PostAsync("/login", new FormUrlEncodedContent([new("token", DashboardFixture.BrowserToken)]));

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.False(wrong.Headers.Contains("Set-Cookie"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrongQuery.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, right.StatusCode);
        Assert.True(right.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task A_forged_cookie_is_not_a_session()
    {
        var cookies = new CookieContainer();
        cookies.Add(fixture.Dashboard.UiUrl, new Cookie("pii-dashboard-auth", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        using var client = Anonymous(cookies);

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/resources")).StatusCode);
    }
}
