using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Pii.AppHost.Hosting;

/// <summary>
/// Databases, logins and buckets live inside a server process. Aspire passes a parent's state on to such children
/// only for containers, so for our executables a child turns Running here once its parent is ready; from then on its
/// health is its ancestors' (Aspire inherits their health checks) and its own ready handlers (provisioning) run, which
/// is what <c>WaitFor(child)</c> waits for.
/// </summary>
internal static class ChildResources
{
    public static IResourceBuilder<T> AddChild<T>(this IDistributedApplicationBuilder builder, T child, string resourceType) where T : IResourceWithParent
    {
        var resource = builder.AddResource(child).WithInitialState(new CustomResourceSnapshot
        {
            ResourceType = resourceType,
            State = KnownResourceStates.NotStarted,
            Properties = [],
        });
        builder.Eventing.Subscribe<ResourceReadyEvent>(child.Parent, (e, _) =>
            e.Services.GetRequiredService<ResourceNotificationService>().PublishUpdateAsync(child, s => s with
            {
                State = KnownResourceStates.Running,
                StartTimeStamp = DateTime.UtcNow,
            }));
        builder.Eventing.Subscribe<ResourceStoppedEvent>(child.Parent, (e, _) =>
            e.Services.GetRequiredService<ResourceNotificationService>().PublishUpdateAsync(child, s => s with
            {
                State = KnownResourceStates.Finished,
                StopTimeStamp = DateTime.UtcNow,
            }));
        return resource;
    }
}
