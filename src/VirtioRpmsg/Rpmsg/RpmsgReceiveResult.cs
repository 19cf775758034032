namespace VirtioRpmsg.Rpmsg;

/// <summary>One message read from a queue-style endpoint: who sent it and how many bytes were copied.</summary>
/// <param name="Source">Address the message came from.</param>
/// <param name="Length">Payload bytes copied into the destination.</param>
public readonly record struct RpmsgReceiveResult(uint Source, int Length);
