using Microsoft.AspNetCore.Http.HttpResults;

namespace Pii.FormApi.Apis;

/// <summary>Reads a JSON request body up to a byte limit (the limit is checked while reading, not only from Content-Length).</summary>
internal static class RequestBody
{
    public static async Task<(byte[]? Body, ProblemHttpResult? Problem)> ReadJsonAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (!request.HasJsonContentType())
        {
            return (null, TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "The body must be application/json.",
                extensions: new Dictionary<string, object?> { ["field"] = "body" }));
        }
        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return (null, TooLarge(maxBytes));
            }
            buffer.Write(chunk, 0, read);
        }
        return (buffer.ToArray(), null);
    }

    private static ProblemHttpResult TooLarge(int maxBytes) =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: $"The body is larger than {maxBytes} bytes.",
            extensions: new Dictionary<string, object?> { ["field"] = "body" });
}
