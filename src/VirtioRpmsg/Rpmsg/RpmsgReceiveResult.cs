namespace VirtioRpmsg.Rpmsg;

/// <summary>One message read from a queue-style endpoint: who sent it and how many bytes were copied.</summary>
public readonly record struct RpmsgReceiveResult(uint Source, int Length);
