namespace Pii.Testing;

public static class Eventually
{
    /// <summary>Polls until <paramref name="probe"/> returns a value (telemetry is exported in batches, asynchronously).</summary>
    public static Task<T> WaitAsync<T>(Func<T?> probe, string what, TimeSpan? timeout = null) where T : class =>
        PollAsync(() => Task.FromResult(probe() is { } value ? (true, value) : (false, default(T)!)), what, timeout);

    public static Task<T> WaitAsync<T>(Func<Task<T?>> probe, string what, TimeSpan? timeout = null) where T : class =>
        PollAsync(async () => await probe() is { } value ? (true, value) : (false, default(T)!), what, timeout);

    /// <summary>The same for value types (JSON elements).</summary>
    public static Task<T> WaitForValueAsync<T>(Func<Task<T?>> probe, string what, TimeSpan? timeout = null) where T : struct =>
        PollAsync(async () => await probe() is { } value ? (true, value) : (false, default), what, timeout);

    private static async Task<T> PollAsync<T>(Func<Task<(bool Found, T Value)>> probe, string what, TimeSpan? timeout)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var (found, value) = await probe();
            if (found)
            {
                return value;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }
            await Task.Delay(100);
        }
    }
}
