namespace VirtioRpmsg.Rpmsg;

/// <summary>A snapshot of a device's counters (also published through System.Diagnostics.Metrics, meter "VirtioRpmsg").</summary>
public readonly record struct RpmsgCounters(
    long TxMessages,
    long RxMessages,
    long TxBufferWaits,
    long Dropped,
    long Errors,
    long CallbackErrors,
    long NameServiceDuplicates);
