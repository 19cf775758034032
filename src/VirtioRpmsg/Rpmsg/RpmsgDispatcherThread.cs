using System.Diagnostics;
using Microsoft.Extensions.Logging;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The dispatcher thread and its wait strategy. Every mode runs the same loop: process a batch, spin
/// for a budget while idle, then re-enable notifications and block on the doorbell (re-checked every
/// <c>IdleRecheckInterval</c>, so a lost doorbell costs latency, never a message). The modes differ
/// only in the spin budget: <see cref="RpmsgWaitStrategy.Interrupt"/> none,
/// <see cref="RpmsgWaitStrategy.Hybrid"/> <c>HybridSpin</c>, <see cref="RpmsgWaitStrategy.BusyPoll"/>
/// <c>BusyPollIdleTimeout</c>. <see cref="RpmsgWaitStrategy.CallerPoll"/> has no thread: the
/// application calls <see cref="RpmsgDevice.Poll"/>.
/// <para>
/// While application readers poll the ring (<see cref="RpmsgReaderSpin"/>) the loop neither spins nor
/// asks the peer to kick: it sleeps with rx notifications off and looks again every
/// <see cref="HelperRecheck"/> (sooner when a kick comes anyway), taking over only when a message
/// waits with the ring free. The last polling reader, when its spin runs out, turns notifications back on as it leaves
/// (<see cref="RearmRxNotifications"/>); the loop turns them off, then looks at the helper count (a Dekker
/// pair, ordered by the rx queue's lock), so it never sleeps with them off and nobody polling. A reader that
/// comes while the loop sleeps with them on leaves the event where the loop armed it (RpmsgRxDispatcher's
/// ProcessPendingOwned): one kick wakes the loop, which then turns them off.
/// </para>
/// </summary>
internal sealed class RpmsgDispatcherThread
{
    private readonly RpmsgDevice _device;
    private readonly RpmsgRxDispatcher _rx;
    private readonly RpmsgTxPath _tx;
    private readonly TimeSpan _spinBudget;
    private Thread? _thread;
    // While the loop works or spins it does not wait on the doorbell: kicks that come anyway are read here.
    private readonly RpmsgKickDrain _drain = new();
    private long _spentSpins;

    /// <summary>How many spins ran their whole budget without work (tests: an idle device stops spinning). Not per message.</summary>
    internal long SpentSpins => Volatile.Read(ref _spentSpins);

    /// <summary>How long the loop sleeps (kicks off) while readers poll the ring before it looks again.</summary>
    internal static readonly TimeSpan HelperRecheck = TimeSpan.FromMilliseconds(1);

    internal RpmsgDispatcherThread(RpmsgDevice device, RpmsgRxDispatcher rx, RpmsgTxPath tx)
    {
        _device = device;
        _rx = rx;
        _tx = tx;
        _spinBudget = SpinBudget(device.Options);
    }

    /// <summary>How long the loop spins while idle before blocking, per strategy.</summary>
    internal static TimeSpan SpinBudget(RpmsgDeviceOptions options) => options.WaitStrategy switch
    {
        RpmsgWaitStrategy.Interrupt => TimeSpan.Zero,
        RpmsgWaitStrategy.Hybrid => options.HybridSpin,
        _ => options.BusyPollIdleTimeout,
    };

    /// <summary>Whether a strategy runs a dispatcher thread at all.</summary>
    internal static bool HasThread(RpmsgWaitStrategy strategy) => strategy != RpmsgWaitStrategy.CallerPoll;

    internal bool IsStarted => _thread is not null;

    internal bool IsAlive => _thread is { IsAlive: true };

    internal void Start()
    {
        _thread = new Thread(Main) { IsBackground = true, Name = $"rpmsg-{_device.Name}" };
        _thread.Start();
    }

    /// <summary>Waits for the thread to end (not from the thread itself: Stop from a callback returns without joining).</summary>
    internal void Join()
    {
        var thread = _thread;
        if (thread is not null && thread != Thread.CurrentThread)
            thread.Join();
    }

    private void Main()
    {
        _rx.MarkDispatcherThread();
        _device.Gate.MarkJoinedByStop(); // Stop joins this thread: its data operations need no count
        var token = _device.StopToken;
        var log = _device.CounterSet.Log;
        try
        {
            if (_device.Options.DispatcherCpu is int cpu)
            {
                try
                {
                    CpuAffinity.PinCurrentThread(cpu);
                }
                catch (VirtioRpmsg.Interop.NativeCallException e)
                {
                    // A CPU that is offline or outside our cpuset: keep working unpinned, but say so.
                    log.LogWarning("rpmsg {Device}: dispatcher not pinned to CPU {Cpu}: {Reason}", _device.Name, cpu, e.Message);
                }
            }
            if (_device.Role == RpmsgRole.Remote)
            {
                while (!_device.TryCompleteRemoteLinkUp())
                {
                    // A Poll on another thread won the link-up and is still announcing (the state is Running from the
                    // start of that): the rings are served from here on, not left to that Poll.
                    if (_device.State == RpmsgDeviceState.Running)
                        break;
                    if (_device.State != RpmsgDeviceState.Starting)
                        return;
                    _device.Doorbell.Wait(_device.Options.IdleRecheckInterval, token);
                }
            }
            RunLoop(token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (FaultException e)
        {
            _device.Break(e.Fault);
        }
        catch (DoorbellClosedException e)
        {
            // The peer went away (it exited, or closed its socket): not a failure of this side.
            _device.Break(RpmsgDevice.DoorbellClosedFault(e));
        }
        catch (RegionClosedException e)
        {
            _device.Break(new Fault(FaultLayer.Memory, FaultRule.MemoryUnmapped, "region", 0, "shared memory unmapped under the dispatcher: " + e.Message));
        }
        catch (Exception e)
        {
            // Never let an exception escape to kill the process; report and stop dispatching.
            log.LogCritical(e, "rpmsg {Device}: dispatcher failed", _device.Name);
            _device.Break(new Fault(FaultLayer.Rpmsg, FaultRule.DispatcherFailed, "dispatcher", 0, "dispatcher failed: " + e.Message));
        }
    }

    /// <summary>
    /// Process, spin for up to the budget while idle, then block on the doorbell with notifications
    /// re-enabled (and re-checked, so a message that raced the enable is not missed).
    /// </summary>
    private void RunLoop(CancellationToken token)
    {
        _transport = _device.Transport!;
        _recheck = _device.Options.IdleRecheckInterval;
        // Hybrid, with a peer that kicks for every message whatever it is asked (RPMsg-Lite's remote): no spin while a
        // message the loop queued waits for its reader. The peer's kick for the reply wakes the loop anyway, and on a
        // 2-CPU machine with the other CPU taken the reader, and the peer its kick woke, waited on this core for the whole
        // spin: hybrid ping p50 66-80 us instead of 10-16 (docs/wait-strategies.md). With a peer that honours the
        // suppression the spin stays: sleeping with kicks on instead made the own remote's echo take a kick and a wake-up
        // per message whenever the loop got there first.
        _readerFirst = _device.Options.WaitStrategy == RpmsgWaitStrategy.Hybrid && _transport.PeerKicksWhateverAsked;
        _rx.TrackFedQueue = _readerFirst;
        while (!token.IsCancellationRequested && _device.State == RpmsgDeviceState.Running)
            Pass(token);
    }

    // Set by RunLoop before the first pass; the dispatcher thread's own.
    private IRpmsgTransport _transport = null!;
    private TimeSpan _recheck;
    private bool _readerFirst;
    // The last wait ran out with no ring: nothing came for a whole recheck interval. Spinning the budget again then
    // kept an idle busy-poll device on a core for 200 of every 700 ms (docs/benchmarks-notes.md, sixteenth round);
    // the loop waits again at once, and spins again after a ring or a message (or while others take them: readers
    // polling the ring, a Poll that owns it).
    private bool _quiet;
    // The spin just found work with no reader polling: notifications are off (the disable above the spin; a reader that
    // left meanwhile may have re-armed them, and the next pass's disable turns them off again), so the pass goes straight
    // to the ring: one gate entry less on the path the peer waits on. With readers polling, the pass is the usual one
    // (one of them may own the ring: the loop sleeps with kicks off, SleepWhileHelped).
    private bool _found;

    /// <summary>
    /// One pass of the loop, a method of its own: the runtime compiles it as any method called often, with the profile
    /// of the passes so far. A loop that never returns is compiled once, part way through its first run (on-stack
    /// replacement), with whatever profile the link-up's idle passes left, and kept for the device's life: the
    /// cross-process busy-poll echo read anywhere from 490 to 720 ns from one process to the next
    /// (docs/benchmarks-notes.md, thirty-first round).
    /// </summary>
    private void Pass(CancellationToken token)
    {
        var transport = _transport;
        var doorbell = _device.Doorbell;
        var owner = _rx.Owner;
        if (!_found || owner.HasHelpers)
        {
            transport.DisableRxNotifications();
            if (owner.HasHelpers && SleepWhileHelped(transport, doorbell, token))
            {
                _quiet = false;
                return;
            }
        }
        _found = false;
        _drain.DrainIfDue(doorbell);
        if (!_rx.TryProcessPendingOwned(64, out int handled))
        {
            // A Poll owns the rx ring (and hands it back with everything handled). Sleep on the
            // doorbell instead of spinning for it; each ring lets senders waiting inside that
            // Poll's callbacks re-try and park what arrived. Notifications are on (TryProcessPendingOwned).
            // Only when someone waits: spinning readers' Polls make this frequent.
            if (_tx.Waiters > 0)
                _tx.Signal();
            doorbell.Wait(_recheck, token);
            _quiet = false;
            return;
        }
        if (handled > 0)
        {
            _quiet = false;
            return;
        }
        if (_spinBudget > TimeSpan.Zero && !_quiet && !(_readerFirst && _rx.ReaderBehind())
            && SpinUntilWork(transport, doorbell, Deadline.Within(_spinBudget), token))
        {
            _found = true;
            return;
        }
        if (owner.HasHelpers)
            return; // a reader polls: sleep without kicks (above)
        if (!transport.EnableRxNotifications())
            return;
        _tx.WakeIfReturned(transport);
        if (_rx.HandOver.TryLend(token))
            return; // a reader waited on the doorbell meanwhile (Interrupt)
        _quiet = !doorbell.Wait(_recheck, token);
        if (!_quiet)
            transport.PrefetchAfterWake();
    }

    /// <summary>
    /// Readers poll the ring (notifications are off): sleeps up to <see cref="HelperRecheck"/> and returns true, or
    /// false when the loop should work instead (the last reader left, or a message waits with the ring free).
    /// </summary>
    private bool SleepWhileHelped(IRpmsgTransport transport, IDoorbell doorbell, CancellationToken token)
    {
        // After the disable (the caller's), the helper count: a leaving reader's re-arm came after its count.
        Interlocked.MemoryBarrier();
        var owner = _rx.Owner;
        // Work instead when: nobody polls any more; a message (or a backlog) waits with the ring free; a Poll owns the
        // ring while a sender inside its callback waits (it is signalled on every ring, with kicks on, below).
        if (!owner.HasHelpers || (!owner.IsOwned && (transport.RxPending || _rx.HasBacklog)) || (owner.IsOwned && _tx.Waiters > 0))
            return false;
        _tx.WakeIfReturned(transport);
        doorbell.Wait(HelperRecheck, token);
        return true;
    }

    /// <summary>
    /// Rx notifications back on from a reader's thread: the last polling reader leaving without its message (it will
    /// sleep, and what arrives next must wake the dispatcher thread, which sleeps with them off while readers poll), or
    /// a reader about to wait on the doorbell (<see cref="RpmsgDoorbellHandOver"/>). False when a message is already
    /// pending (it came before the re-arm, so no kick will announce it). Never throws.
    /// </summary>
    internal static bool RearmRxNotifications(RpmsgDevice device)
    {
        if (!device.HasDispatcherThread || !device.Gate.TryEnter(out var transport))
            return true;
        try
        {
            return transport.EnableRxNotifications();
        }
        catch (Exception e) when (RpmsgDataGate.Handles(e))
        {
            device.Gate.Absorb(e, "rx notifications not re-enabled after a reader polled");
            return true;
        }
        finally
        {
            device.Gate.Exit();
        }
    }

    /// <summary>
    /// A reader's thread woken by the doorbell it held (<see cref="RpmsgDoorbellHandOver"/>) prefetches the ring lines
    /// its take touches, as the dispatcher thread does after its own wait (<see cref="IRpmsgTransport.PrefetchAfterWake"/>).
    /// Never throws.
    /// </summary>
    internal static void PrefetchAfterWake(RpmsgDevice device)
    {
        if (!device.Gate.TryEnter(out var transport))
            return;
        try
        {
            transport.PrefetchAfterWake();
        }
        finally
        {
            device.Gate.Exit();
        }
    }

    private bool SpinUntilWork(IRpmsgTransport transport, IDoorbell doorbell, Deadline until, CancellationToken token)
    {
        int i = 0;
        var owner = _rx.Owner;
        while (!token.IsCancellationRequested)
        {
            if (transport.RxPending || (_tx.Waiters > 0 && transport.TxAvailable))
                return true;
            // An application thread polls the ring while it spins for a message: leave it the core.
            if (owner.HasHelpers)
                return false;
            if ((++i & 63) == 0)
            {
                if (until.IsExpired)
                {
                    Volatile.Write(ref _spentSpins, _spentSpins + 1);
                    return false;
                }
                _drain.DrainIfDue(doorbell);
            }
            RpmsgSpinPause.After(i);
        }
        return false;
    }
}
