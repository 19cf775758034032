using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Set-up shared by the doorbell hand-over tests (<see cref="RpmsgDoorbellHandOver"/>).</summary>
internal static class DoorbellHandOverKit
{
    internal static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    internal static Task<T> OnThread<T>(Func<T> body) => Task.Factory.StartNew(body, TaskCreationOptions.LongRunning);

    /// <summary>
    /// A loopback whose host waits by Interrupt with a long idle re-check (a wait that only ends at the re-check outlasts
    /// the tests' bounds), on hooked doorbells: a second thread waiting on one at the same time throws, as eventfd and UIO
    /// ones do (on the dispatcher: the device breaks).
    /// </summary>
    internal static RpmsgLoopback InterruptLoopOnOneWaiterDoorbells(RpmsgWaitStrategy remote) =>
        RpmsgLoopback.Create(
            host: o =>
            {
                o.WaitStrategy = RpmsgWaitStrategy.Interrupt;
                o.IdleRecheckInterval = TimeSpan.FromSeconds(120);
            },
            remote: o => o.WaitStrategy = remote,
            hookedDoorbells: true);

    /// <summary>A doorbell whose waits fail once told to, as a UIO device or a peer's socket that is gone.</summary>
    internal sealed class FailingDoorbell(IDoorbell inner) : IDoorbell
    {
        public volatile bool Gone;

        public bool Ring() => inner.Ring();

        public bool Drain() => inner.Drain();

        public void Dispose() => inner.Dispose();

        public bool Wait(TimeSpan timeout, CancellationToken cancellationToken = default)
        {
            if (Gone)
                throw new DoorbellClosedException("test-doorbell", "gone for the test");
            bool rung = inner.Wait(timeout, cancellationToken);
            if (Gone)
                throw new DoorbellClosedException("test-doorbell", "gone for the test");
            return rung;
        }
    }

    /// <summary>A reader blocked in Receive with no timeout of its own, and the thread it runs on.</summary>
    internal sealed class Reader
    {
        private int _thread;

        internal Reader(RpmsgEndpoint queue, byte[]? buffer = null, CancellationToken token = default)
        {
            buffer ??= new byte[16];
            Task = OnThread(() =>
            {
                Volatile.Write(ref _thread, Environment.CurrentManagedThreadId);
                return queue.Receive(buffer, Timeout.InfiniteTimeSpan, token);
            });
        }

        internal Task<RpmsgReceiveResult> Task { get; }

        /// <summary>The reader's managed thread id (0 until it started).</summary>
        internal int Thread => Volatile.Read(ref _thread);
    }

    /// <summary>
    /// Waits until a blocked reader holds the host's doorbell, then until the pokes are consumed (from there only a
    /// ring, or the hand-over itself, ends its wait). A reader that finds the dispatcher holding the doorbell sleeps
    /// on its queue and asks for it; the dispatcher lends it at its next idle moment, so messages to an address
    /// nobody has (dropped) wake the dispatcher until it did. On hooked doorbells it returns only once the holder blocks
    /// in the doorbell's wait again: "pokes consumed" can read true while the holder, its last poke taken off the ring,
    /// still delivers it, and a hook set next (on its Poll, its re-arm, its wait's end) would run on that stale pass.
    /// </summary>
    internal static void AwaitHeld(RpmsgLoopback loop, Func<bool>? stillBlocked = null, RpmsgEndpoint? poker = null)
    {
        var ownPoker = poker is null ? loop.Remote.CreateEndpoint() : null;
        poker ??= ownPoker!;
        var handOver = loop.Host.Rx.HandOver;
        var until = DateTime.UtcNow + Bound;
        var spin = new SpinWait();
        while (!handOver.IsHeldByReader)
        {
            Assert.True(stillBlocked?.Invoke() ?? true, "the reader returned with nothing sent to it");
            if (DateTime.UtcNow > until)
                throw new TimeoutException($"no blocked reader holds the doorbell ({handOver})\nhost: {loop.Host.Dump()}");
            poker.SendTo(0x5FF, [0]);
            loop.PollCallerPollDevices();
            spin.SpinOnce(sleep1Threshold: 10);
        }
        ownPoker?.Dispose();
        loop.WaitUntil(() => !loop.HostDoorbell.IsRung && !loop.Host.Transport!.RxPending, "the pokes consumed");
        // A ring with nothing for it returns only once its waiter took it and blocks again.
        if (loop.HostBell is HookedDoorbell bell)
            Assert.True(bell.RingAndWaitUntilIdle(() => loop.RemoteDoorbell.Ring()), $"the doorbell's waiter did not block again ({handOver})");
    }

    /// <summary>Takes every free tx buffer of <paramref name="sender"/>'s device, then starts a send that waits for one.</summary>
    internal static Task<bool> BlockedSender(RpmsgLoopback loop, RpmsgEndpoint sender, uint destination)
    {
        while (sender.TrySendTo(destination, [1])) { }
        long waits = loop.Host.Counters.TxBufferWaits;
        var blocked = OnThread(() =>
        {
            sender.SendTo(destination, [2], Bound);
            return true;
        });
        RpmsgLoopback.WaitForBlockedSenders(loop.Host, waits);
        return blocked;
    }
}
