namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// Tests that count /proc/self/fd and /proc/self/maps. xUnit runs such a collection on its own, after
/// the parallel ones, so that no other test opens or maps anything while they count.
/// </summary>
[CollectionDefinition(nameof(ResourceCountingCollection), DisableParallelization = true)]
public sealed class ResourceCountingCollection
{
}
