using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A device's counters and its rate-limited logging. Counting is one Interlocked increment; the log
/// gets the first ten occurrences of a kind and then every thousandth, so a peer flooding us with
/// bad messages cannot flood the log too.
/// </summary>
internal sealed class RpmsgDeviceCounters
{
    private readonly string _device;
    private readonly ILogger _log;
    // The per-message counters sit on cache lines of their own: senders (application threads) and the
    // rx ring's owner (the dispatcher) count every message, and one shared line would move between
    // their cores each time.
    private PaddedCounter _txMessages;
    // Sends made on the device's dispatcher thread (from its callbacks): one writer, so a plain increment
    // published with a release store instead of a locked one (a full fence per send).
    private PaddedCounter _txByDispatcher;
    private PaddedCounter _rxMessages;
    private long _txBufferWaits;
    private long _dropped;
    private long _errors;
    private long _callbackErrors;
    private long _nsDuplicates;
    private long _nsRefused;
    private long _nsTruncated; // logged only: not a peer error (OpenAMP sends such names)

    internal RpmsgDeviceCounters(string device, ILogger log)
    {
        _device = device;
        _log = log;
    }

    internal ILogger Log => _log;

    /// <summary>A consistent-enough snapshot (each counter read atomically).</summary>
    internal RpmsgCounters Snapshot() => new(
        Interlocked.Read(ref _txMessages.Value) + Volatile.Read(ref _txByDispatcher.Value), Interlocked.Read(ref _rxMessages.Value), Interlocked.Read(ref _txBufferWaits),
        Interlocked.Read(ref _dropped), Interlocked.Read(ref _errors), Interlocked.Read(ref _callbackErrors),
        Interlocked.Read(ref _nsDuplicates), Interlocked.Read(ref _nsRefused));

    internal void CountTx() => Interlocked.Increment(ref _txMessages.Value);

    /// <summary>A send on the device's dispatcher thread (the only writer of this counter).</summary>
    internal void CountTxOnDispatcher() => Volatile.Write(ref _txByDispatcher.Value, _txByDispatcher.Value + 1);

    // One rx ring owner at a time (dispatcher or a Poll, handed over with release/acquire), so a plain
    // increment published with a release store suffices; snapshots read it atomically.
    internal void CountRx() => Volatile.Write(ref _rxMessages.Value, _rxMessages.Value + 1);

    internal void CountTxWait() => Interlocked.Increment(ref _txBufferWaits);

    /// <summary>The first ten of a kind, then every thousandth.</summary>
    internal static bool ShouldLog(long count) => count <= 10 || count % 1000 == 0;

    /// <summary>
    /// Counts <paramref name="count"/> dropped messages; true when the log takes a warning about it now (rate limit and
    /// level): only then does the caller word why, for <see cref="LogDropped"/> (a hot drop path allocates nothing else).
    /// </summary>
    internal bool CountDroppedAndShouldLog(long count, out long total)
    {
        total = Interlocked.Add(ref _dropped, count);
        return ShouldLog(total) && _log.IsEnabled(LogLevel.Warning);
    }

    internal void LogDropped(long count, long total, string why)
    {
        if (count == 1)
            _log.LogWarning("rpmsg {Device}: message dropped ({Count} so far): {Why}", _device, total, why);
        else
            _log.LogWarning("rpmsg {Device}: {Count} messages dropped ({Total} so far): {Why}", _device, count, total, why);
    }

    /// <summary>
    /// Counts an error; true when the log takes a warning about it now (rate limit and level): only then does the
    /// caller word it, for <see cref="LogError"/> (what a peer can make happen per message allocates nothing else).
    /// </summary>
    internal bool CountErrorAndShouldLog(out long total)
    {
        total = Interlocked.Increment(ref _errors);
        return ShouldLog(total) && _log.IsEnabled(LogLevel.Warning);
    }

    internal void LogError(string what, long total) =>
        _log.LogWarning("rpmsg {Device}: {What} ({Count} errors so far)", _device, what, total);

    /// <summary>A fault broke the device: counted as an error and always logged (it happens once).</summary>
    internal void CountBreak(Fault fault)
    {
        Interlocked.Increment(ref _errors);
        _log.LogError("rpmsg {Device}: broken ({Layer} {Rule}, {Field} = {Value}): {Reason}", _device, fault.Layer, fault.Rule, fault.Field, fault.Value, fault.Message);
    }

    internal void CountDuplicateAnnouncement(string name, uint address)
    {
        long n = Interlocked.Increment(ref _nsDuplicates);
        if (ShouldLog(n))
            _log.LogWarning("rpmsg {Device}: duplicate announcement of '{Name}' at 0x{Address:X} ignored", _device, PrintableText.Of(name), address);
    }

    /// <summary>An announcement refused at the per-device bound; <paramref name="why"/> names the limit and its value.</summary>
    internal void CountRefusedAnnouncement(string name, uint address, string why)
    {
        long n = Interlocked.Increment(ref _nsRefused);
        if (ShouldLog(n))
            _log.LogWarning("rpmsg {Device}: name-service announcement of '{Name}' at 0x{Address:X} refused ({Count} so far): {Why}", _device, PrintableText.Of(name), address, n, why);
    }

    /// <summary>A peer's name filled all 32 bytes without a NUL: taken as its first 31 bytes, as Linux's rpmsg_ns_cb does.</summary>
    internal void CountTruncatedName(string name, uint address)
    {
        long n = Interlocked.Increment(ref _nsTruncated);
        if (ShouldLog(n))
            _log.LogWarning("rpmsg {Device}: name-service name at 0x{Address:X} fills 32 bytes without NUL; taken as '{Name}' ({Count} so far)", _device, address, PrintableText.Of(name), n);
    }

    internal void ReceiveCallbackFailed(uint endpoint, Exception e)
    {
        long n = Interlocked.Increment(ref _callbackErrors);
        if (ShouldLog(n))
            _log.LogError(e, "rpmsg {Device}: receive callback of endpoint 0x{Address:X} threw ({Count} so far)", _device, endpoint, n);
    }

    /// <summary>A driver's probe or remove threw; <paramref name="what"/> says which and what followed.</summary>
    internal void DriverCallbackFailed(Exception e, string what, string service)
    {
        Interlocked.Increment(ref _callbackErrors);
        _log.LogError(e, "rpmsg {Device}: {What} of '{Name}' threw", _device, what, PrintableText.Of(service)); // the peer's name
    }

    /// <summary>Runs an application event handler; a throwing handler is counted and logged, never propagated.</summary>
    internal void Raise(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _callbackErrors);
            _log.LogError(e, "rpmsg {Device}: event handler threw", _device);
        }
    }
}

/// <summary>A counter alone on its cache line (64 bytes of padding either side; an object starts 8-aligned).</summary>
[StructLayout(LayoutKind.Explicit, Size = 136)]
internal struct PaddedCounter
{
    [FieldOffset(64)]
    internal long Value;
}
