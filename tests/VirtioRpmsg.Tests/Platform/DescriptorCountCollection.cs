namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// Tests that count this process's open descriptors: they run alone (no other test class in
/// parallel) so that nobody else opens or closes descriptors during a count.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DescriptorCountCollection
{
    public const string Name = "descriptor-count";
}

