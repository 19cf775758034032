namespace VirtioRpmsg.Harness;

/// <summary>What one one-way streaming measurement produced.</summary>
public sealed record StreamResult(StreamRequest Request, double MessagesPerSecond, double MegabytesPerSecond, double AllocatedBytesPerMessage, double? SteadyMessagesPerSecond = null);
