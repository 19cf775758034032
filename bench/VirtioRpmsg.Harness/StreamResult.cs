namespace VirtioRpmsg.Harness;

/// <summary>What one one-way streaming measurement produced (<paramref name="Probe">: the C baseline just before and after it, when measured).</summary>
public sealed record StreamResult(StreamRequest Request, double MessagesPerSecond, double MegabytesPerSecond, double AllocatedBytesPerMessage, double? SteadyMessagesPerSecond = null, PlacementProbe? Probe = null);
