using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

// The zero-copy half of the send path: a tx buffer taken (at once or waiting), then submitted filled or given back.
internal sealed partial class RpmsgTxPath
{
    /// <summary>Takes a tx buffer for zero-copy send; false at once when none is free.</summary>
    internal bool TryAcquire(out RpmsgBufferRef buffer, RpmsgTxTurn? yieldTo = null)
    {
        var transport = _gate.Enter();
        try
        {
            return transport.TryAcquireTx(out buffer, yieldTo);
        }
        catch (Exception e) when (RpmsgDataGate.Handles(e))
        {
            throw _gate.Translate(e);
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>Takes a tx buffer, waiting up to <paramref name="timeout"/> (from the first try that finds none) or until <paramref name="owner"/> is destroyed.</summary>
    internal RpmsgBufferRef Acquire(TimeSpan timeout, CancellationToken cancellationToken, RpmsgEndpoint? owner = null)
    {
        if (MayTakeFirst() && TryAcquire(out var buffer, FirstTurn()))
            return buffer;
        var deadline = Deadline.Within(timeout);
        bool callback = _device.Rx.IsDispatcherContext;
        MappingLease.ThrowIfHeld("RpmsgEndpoint.GetTxBuffer");
        BeginWait(callback, deadline);
        var backoff = default(RpmsgRecheckBackoff);
        try
        {
            while (true)
            {
                long signal = _signal.Generation;
                owner?.ThrowIfCannotSend();
                if (MayTake(callback) && TryAcquire(out buffer, TurnFor(callback)))
                    return buffer;
                Wait(signal, deadline, timeout, cancellationToken, ref backoff);
            }
        }
        finally
        {
            EndWait(callback);
        }
    }

    /// <summary>
    /// Zero-copy send of a filled tx buffer. On a device that is no longer running, the buffer is dropped and the send
    /// throws. False, with the buffer given back unsent, when <paramref name="owner"/> was destroyed since its last check
    /// (looked at under the tx gate, as a copy send does: <see cref="Fence"/>).
    /// </summary>
    internal bool Submit(int id, int length, RpmsgEndpoint owner)
    {
        var transport = _gate.Enter();
        try
        {
            if (!transport.SubmitTx(id, length, owner))
            {
                GiveBack(transport, id);
                return false;
            }
            CountTx();
            return true;
        }
        catch (Exception e) when (RpmsgDataGate.Handles(e))
        {
            throw _gate.Translate(e);
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>Gives an unsent zero-copy buffer back (moot once the device stopped) and wakes a waiting sender.</summary>
    internal void Cancel(int id)
    {
        if (!_gate.TryEnter(out var transport))
            return;
        try
        {
            GiveBack(transport, id);
        }
        catch (Exception e) when (RpmsgDataGate.Handles(e))
        {
            throw _gate.Translate(e);
        }
        finally
        {
            _gate.Exit();
        }
    }

    // Under the data gate: the buffer back to the free list, and a waiting sender told.
    private void GiveBack(IRpmsgTransport transport, int id)
    {
        transport.CancelTx(id);
        if (Volatile.Read(ref _waiters) > 0)
            Signal();
    }
}
