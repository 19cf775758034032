namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Called on the dispatcher with one message. <paramref name="payload"/> is a private copy valid only
/// during the call (the shared buffer is already back with the peer). The handler may send, and may
/// destroy its own endpoint. Exceptions are caught, logged and counted.
/// </summary>
public delegate void RpmsgReceiveHandler(RpmsgEndpoint endpoint, uint source, ReadOnlySpan<byte> payload);

/// <summary>
/// Zero-copy receive: the handler sees the message in place. Unless it calls
/// <see cref="RpmsgRxBuffer.Hold"/>, the buffer goes back to the peer when the handler returns.
/// </summary>
public delegate void RpmsgZeroCopyReceiveHandler(RpmsgEndpoint endpoint, RpmsgRxBuffer buffer);
