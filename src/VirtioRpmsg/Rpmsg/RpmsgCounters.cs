namespace VirtioRpmsg.Rpmsg;

/// <summary>A snapshot of a device's counters (also published through System.Diagnostics.Metrics, meter "VirtioRpmsg").</summary>
/// <param name="TxMessages">Messages sent.</param>
/// <param name="RxMessages">Buffers received from the peer, name-service messages and dropped ones included; a message is counted once it is handled (delivered to its endpoint, parked or dropped), so whoever sees the count also sees its effect.</param>
/// <param name="TxBufferWaits">Sends that found no free tx buffer and had to wait.</param>
/// <param name="Dropped">Received messages dropped: unknown destination, full endpoint queue or spent <c>MaxQueuedBytes</c> budget, or destroyed endpoint.</param>
/// <param name="Errors">Protocol violations by the peer (malformed headers, bad lengths, ring errors).</param>
/// <param name="CallbackErrors">Exceptions thrown by receive callbacks (caught and logged).</param>
/// <param name="NameServiceDuplicates">Repeated name-service announcements of the same service and address, ignored.</param>
/// <param name="NameServiceRefused">
/// Name-service announcements refused because the device already holds
/// <see cref="RpmsgDeviceOptions.MaxAnnouncedServices"/> announced services (bound and unbound), or its
/// endpoint table is full: a peer announcing without end cannot grow our memory.
/// </param>
public readonly record struct RpmsgCounters(
    long TxMessages,
    long RxMessages,
    long TxBufferWaits,
    long Dropped,
    long Errors,
    long CallbackErrors,
    long NameServiceDuplicates,
    long NameServiceRefused = 0);
