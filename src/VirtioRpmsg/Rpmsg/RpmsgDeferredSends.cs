namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// Sends made from a receive callback while more messages of the same dispatch batch wait to be delivered:
/// they are added to the ring without publication, and the next publication makes them visible together
/// (one index store, one store-load fence and one notification check for up to <see cref="PublishEvery"/>
/// sends, as Linux's <c>xmit_more</c> or vhost's add_used_n + one signal). The rules:
/// <list type="bullet">
/// <item>(a) published at the latest by the <see cref="PublishEvery"/>-th send, by a send from the batch's last
/// callback (nothing follows it), or when the batch ends (<see cref="EndBatch"/>);</item>
/// <item>(b) published before any of the library's own blocking waits on that thread
/// (<see cref="RpmsgRxDispatcher.PublishDeferredSendsOfThisThread"/>);</item>
/// <item>(c) a callback that blocks in the application's own code: <see cref="RpmsgPublishWatchdog"/> publishes
/// whatever has waited for more than about a millisecond (ten after a quiet spell), so no such wait can deadlock.</item>
/// </list>
/// Threads: the rx ring's owner (dispatcher thread or Poll caller) is the only writer of the owner fields;
/// the watchdog reads <see cref="_open"/> and <see cref="_episodes"/> and publishes through the data gate.
/// </summary>
internal sealed class RpmsgDeferredSends
{
    /// <summary>At most this many sends share one publication: a peer gets work every few messages and keeps
    /// working in parallel (publishing only at the end of a 16-message batch made the two sides take turns).</summary>
    internal const int PublishEvery = 4;

    private readonly RpmsgDevice _device;
    private bool _allowed; // owner: a callback runs and more messages of its batch follow
    private int _count;    // owner: sends added since the last publication
    private long _open;    // owner writes: the current episode's number while sends wait for publication, else 0
    private long _episodes;
    private long _seen;    // watchdog only: _open at its last look
    private long _seenEpisodes;
    private long _watchdogPublications;

    internal RpmsgDeferredSends(RpmsgDevice device) => _device = device;

    /// <summary>True while this device is watched (registered on the first deferred send; see <see cref="RpmsgPublishWatchdog"/>).</summary>
    internal bool Watched { get; set; }

    /// <summary>Test hook: false keeps the watchdog from publishing for this device (to test the other rules alone).</summary>
    internal bool WatchdogEnabled { get; set; } = true;

    /// <summary>Times the watchdog had to publish for a callback that held sends past a tick.</summary>
    internal long WatchdogPublications => Interlocked.Read(ref _watchdogPublications);

    /// <summary>Sends waiting for publication (owner's view; other threads read a hint).</summary>
    internal bool HasPending => _count != 0;

    /// <summary>Whether a send on this thread now may stay unpublished (then call <see cref="Deferred"/>).</summary>
    internal bool MayDefer => _allowed && _count < PublishEvery - 1 && _device.Rx.IsDispatcherContext;

    /// <summary>Owner, before each callback of a batch: whether more messages follow it in the batch.</summary>
    internal void BeforeCallback(bool moreFollow) => _allowed = moreFollow;

    /// <summary>Owner: a send stayed unpublished.</summary>
    internal void Deferred()
    {
        if (_count++ != 0)
            return;
        Volatile.Write(ref _open, ++_episodes);
        if (!Watched)
            RpmsgPublishWatchdog.Watch(this);
    }

    /// <summary>Any thread, after a send that published: on the owner's thread, nothing waits any more.</summary>
    internal void Published()
    {
        if (_count == 0 || !_device.Rx.IsDispatcherContext)
            return;
        _count = 0;
        Volatile.Write(ref _open, 0);
    }

    /// <summary>Owner, when a batch's deliveries end (normally or not): publishes what its callbacks left.</summary>
    internal void EndBatch()
    {
        _allowed = false;
        Publish();
    }

    /// <summary>Owner: publishes the sends that wait (before a blocking wait, at the end of a batch).</summary>
    internal void Publish()
    {
        if (_count == 0)
            return;
        _count = 0;
        var gate = _device.Gate;
        // Not running: nothing may be written after Stop; the sends are lost with the link, like any unread message.
        if (gate.TryEnter(out var transport))
        {
            try
            {
                transport.FlushTx();
            }
            catch (Exception e) when (RpmsgDataGate.Handles(e))
            {
                throw gate.Translate(e);
            }
            finally
            {
                gate.Exit();
                Volatile.Write(ref _open, 0);
            }
        }
        else
        {
            Volatile.Write(ref _open, 0);
        }
    }

    /// <summary>
    /// Watchdog, once per tick: publishes when the same episode was open at its last look (a callback has held
    /// sends for a whole tick: it blocks, or runs long). True when this device deferred anything since the last look.
    /// </summary>
    internal bool Check()
    {
        long open = Volatile.Read(ref _open);
        long episodes = Volatile.Read(ref _episodes);
        bool stuck = open != 0 && open == _seen;
        bool active = open != 0 || episodes != _seenEpisodes;
        _seen = open;
        _seenEpisodes = episodes;
        if (stuck && WatchdogEnabled)
            PublishForOwner();
        return active;
    }

    // The queue's gate serializes this with the owner's adds; publishing early is always correct (the owner's own
    // later publication then finds nothing new). Never throws: a fault breaks the device, as for any data operation.
    private void PublishForOwner()
    {
        var gate = _device.Gate;
        if (!gate.TryEnter(out var transport))
            return;
        try
        {
            transport.FlushTx();
            Interlocked.Increment(ref _watchdogPublications);
        }
        catch (Exception e) when (RpmsgDataGate.Handles(e))
        {
            gate.Absorb(e, "sends deferred by a blocked callback not published");
        }
        finally
        {
            gate.Exit();
        }
    }
}
