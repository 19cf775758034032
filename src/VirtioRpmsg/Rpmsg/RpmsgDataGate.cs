using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The gate every data operation from an application thread passes (send, zero-copy submit and
/// cancel, return of a held rx buffer), and the one place where what goes wrong under such an
/// operation is translated.
/// <para>
/// Stop: an operation counts itself in, then checks the state (increment-then-check, the same
/// pairing as endpoint callbacks); <see cref="RpmsgDevice.Stop"/> changes the state, then
/// <see cref="WaitForDrain"/>s, so after Stop returns nothing writes shared memory.
/// The device's own dispatcher thread is not counted (<see cref="MarkJoinedByStop"/>): Stop joins that
/// thread after the drain (and, run on that thread itself, would not wait for its own entries anyway),
/// so the count adds nothing there but two locked instructions (full fences) per send from a callback.
/// </para>
/// <para>
/// Broken detection is by catching only. A virtqueue throws <c>VirtqueueBrokenException</c> on its
/// first violation and again on every later call, and the transports throw
/// <see cref="RpmsgProtocolException"/>/<see cref="RpmsgConfigurationException"/>; every caller of the
/// transport catches them here (<see cref="Translate"/>) or, on a path that must not throw, in
/// <see cref="Absorb"/>, and both break the device with the exception's <see cref="Fault"/>. Nothing
/// polls the queues (the transports do not even expose their faults): a fault cannot be raised without a caller seeing the exception.
/// </para>
/// </summary>
internal sealed class RpmsgDataGate
{
    // The gates this thread is inside, innermost last (entries nest: a Poll's callback sends, a
    // sender's fault raises StateChanged whose handler sends elsewhere). Stop on a thread that is
    // itself inside an operation must not wait for itself (issue 14, item 4). Grows only past 8 deep.
    // An uncounted entry (the device's dispatcher thread) is recorded as s_uncounted, so Exit knows not to
    // decrement and EnteredByCurrentThread does not count it.
    [ThreadStatic]
    private static object?[]? t_entered;
    [ThreadStatic]
    private static int t_depth;
    // The gate whose device's Stop joins this thread: set once by the device's dispatcher thread.
    [ThreadStatic]
    private static RpmsgDataGate? t_joinedByStop;
    private static readonly object s_uncounted = new();

    private readonly RpmsgDevice _device;
    private int _inFlight;

    internal RpmsgDataGate(RpmsgDevice device) => _device = device;

    /// <summary>Enters and returns the live transport; throws <see cref="RpmsgDeviceUnavailableException"/> (not entered) unless running.</summary>
    internal IRpmsgTransport Enter()
    {
        CountIn();
        // State first: the device publishes the transport before the Running state.
        if (_device.State == RpmsgDeviceState.Running && _device.Transport is { } transport)
            return transport;
        Exit();
        _device.ThrowIfUnavailable();
        throw new RpmsgDeviceUnavailableException(_device.Name, _device.State, "no transport");
    }

    /// <summary>Enters if running; false (not entered) otherwise. For operations that are moot on a stopped device.</summary>
    internal bool TryEnter(out IRpmsgTransport transport)
    {
        CountIn();
        if (_device.State == RpmsgDeviceState.Running && _device.Transport is { } t)
        {
            transport = t;
            return true;
        }
        Exit();
        transport = null!;
        return false;
    }

    /// <summary>Enters while the device is still <see cref="RpmsgDeviceState.Starting"/> (the remote's link-up writes); false (not entered) otherwise.</summary>
    internal bool TryEnterStarting()
    {
        CountIn();
        if (_device.State == RpmsgDeviceState.Starting)
            return true;
        Exit();
        return false;
    }

    /// <summary>
    /// Called once by the device's dispatcher thread: its entries are not counted from now on. Only for a thread
    /// that <see cref="RpmsgDevice.Stop"/> joins before it returns (RpmsgDispatcherThread).
    /// </summary>
    internal void MarkJoinedByStop() => t_joinedByStop = this;

    /// <summary>True on the thread <see cref="MarkJoinedByStop"/> marked for this gate.</summary>
    internal bool IsJoinedByStop => ReferenceEquals(t_joinedByStop, this);

    private void CountIn()
    {
        var entered = t_entered ??= new object?[8];
        if (t_depth == entered.Length)
            Array.Resize(ref t_entered, entered.Length * 2);
        if (ReferenceEquals(t_joinedByStop, this))
        {
            // No count: Stop joins this thread before it returns (see the class remarks).
            t_entered![t_depth++] = s_uncounted;
            return;
        }
        t_entered![t_depth++] = this;
        Interlocked.Increment(ref _inFlight);
    }

    internal void Exit()
    {
        var entered = t_entered!;
        if (ReferenceEquals(entered[--t_depth], this))
            Interlocked.Decrement(ref _inFlight);
        entered[t_depth] = null;
    }

    /// <summary>Operations in flight (for tests and the drain).</summary>
    internal int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>How many of the operations in flight are this thread's own (nested entries).</summary>
    internal int EnteredByCurrentThread
    {
        get
        {
            int own = 0;
            var entered = t_entered;
            for (int i = 0; i < t_depth; i++)
            {
                if (ReferenceEquals(entered![i], this))
                    own++;
            }
            return own;
        }
    }

    /// <summary>
    /// Waits until every operation that entered has exited, except the calling thread's own: Stop from
    /// a handler or callback running inside an operation (a sender that detected the break, a Poll)
    /// returns without waiting for itself; that operation ends when the handler returns, and writes no
    /// ring after it sees the state. Called after the state left Running.
    /// </summary>
    internal void WaitForDrain()
    {
        int own = EnteredByCurrentThread;
        if (Volatile.Read(ref _inFlight) <= own)
            return;
        Draining?.Invoke();
        var spin = new SpinWait();
        while (Volatile.Read(ref _inFlight) > own)
            spin.SpinOnce(sleep1Threshold: 20);
    }

    /// <summary>Test hook: raised when <see cref="WaitForDrain"/> starts waiting for other threads' operations.</summary>
    internal Action? Draining { get; set; }

    /// <summary>True for the exceptions <see cref="Translate"/> handles.</summary>
    internal static bool Handles(Exception e) => e is RegionClosedException or FaultException;

    /// <summary>
    /// What the caller of an operation sees when <paramref name="e"/> came out of the transport or the
    /// memory under it. Shared memory unmapped (a stop raced the operation): the documented
    /// <see cref="RpmsgDeviceUnavailableException"/>, never a memory error. A fault (the peer broke the
    /// protocol, or disagrees on the configuration): the device breaks for everyone, and the caller gets
    /// the specific exception rethrown (or, with <paramref name="faultAsUnavailable"/>, the unavailable
    /// exception carrying the fault). Use as <c>throw gate.Translate(e)</c>.
    /// </summary>
    internal Exception Translate(Exception e, bool faultAsUnavailable = false)
    {
        switch (e)
        {
            case RegionClosedException closed:
                return new RpmsgDeviceUnavailableException(_device.Name, _device.State, "shared memory unmapped: " + closed.Message);
            case FaultException fault:
                _device.Break(fault.Fault);
                if (faultAsUnavailable)
                    return new RpmsgDeviceUnavailableException(_device.Name, RpmsgDeviceState.Broken, fault.Fault);
                ExceptionDispatchInfo.Throw(e); // rethrown with its original stack
                return e;
            default:
                return e;
        }
    }

    /// <summary>
    /// For paths that must not throw (a held rx buffer returned from Dispose, notifications disarmed
    /// after a wait): a fault still breaks the device, so it is never lost; both are logged.
    /// </summary>
    internal void Absorb(Exception e, string what)
    {
        if (e is FaultException fault)
            _device.Break(fault.Fault);
        _device.CounterSet.Log.LogWarning("rpmsg {Device}: {What}: {Reason}", _device.Name, what, e.Message);
    }
}
