using System.Net.Sockets;
using System.Text;

namespace Pii.Kms.Tests;

/// <summary>
/// One HTTP/1.1 exchange over a plain socket, with the request target sent byte for byte: HttpClient's Uri would fold
/// case-insensitive parts, resolve dot segments and re-encode, which are exactly the spellings under test.
/// </summary>
public static class RawHttp
{
    public static async Task<(int Status, string Body)> SendAsync(Uri server, string method, string target, string? token, string? body = null)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port);
        await using var stream = client.GetStream();
        var payload = body is null ? [] : Encoding.UTF8.GetBytes(body);
        var head = new StringBuilder()
            .Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(server.Authority).Append("\r\n")
            .Append("Connection: close\r\n");
        if (token is not null)
        {
            head.Append("X-Vault-Token: ").Append(token).Append("\r\n");
        }

        if (body is not null)
        {
            head.Append("Content-Type: application/json\r\nContent-Length: ").Append(payload.Length).Append("\r\n");
        }

        head.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        await stream.WriteAsync(payload);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var response = await reader.ReadToEndAsync();
        var statusLine = response[..response.IndexOf("\r\n", StringComparison.Ordinal)];
        var status = int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var bodyStart = response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
        return (status, response[bodyStart..]);
    }
}
