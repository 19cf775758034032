namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// A caller's cancellation token linked with a device token (its stop), for a wait that takes one token. The link is
/// kept for the next wait with the same caller token (a loop passes the same one again and again), so such a wait
/// allocates only when the token changes; the kept link holds a registration on that token until then (or until the
/// device stops: <see cref="Close"/>). A caller without a token needs no link: it waits on the device token alone.
/// </summary>
internal sealed class RpmsgLinkedStop
{
    private Link? _cached;
    private int _closed; // the device stopped: nothing is kept any more

    /// <summary>One linked source, and the caller token it was made for.</summary>
    internal sealed record Link(CancellationToken For, CancellationTokenSource Source);

    /// <summary>The token to wait on; <paramref name="link"/> goes back through <see cref="Return"/> after the wait.</summary>
    internal CancellationToken Rent(CancellationToken caller, CancellationToken device, out Link? link)
    {
        if (!caller.CanBeCanceled)
        {
            link = null;
            return device;
        }
        var cached = Interlocked.Exchange(ref _cached, null);
        if (cached is null || cached.For != caller || cached.Source.IsCancellationRequested)
        {
            cached?.Source.Dispose();
            cached = new Link(caller, CancellationTokenSource.CreateLinkedTokenSource(caller, device));
        }
        link = cached;
        return cached.Source.Token;
    }

    /// <summary>Keeps <paramref name="link"/> for the next wait (or disposes it: cancelled, or another is kept).</summary>
    internal void Return(Link? link)
    {
        if (link is null)
            return;
        if (link.Source.IsCancellationRequested || Volatile.Read(ref _closed) != 0 || Interlocked.CompareExchange(ref _cached, link, null) is not null)
        {
            link.Source.Dispose();
            return;
        }
        // Kept (a full fence), then the look at _closed: against Close's store to it, then its take of _cached.
        if (Volatile.Read(ref _closed) != 0)
            Interlocked.Exchange(ref _cached, null)?.Source.Dispose();
    }

    /// <summary>
    /// The device stopped: disposes the kept link, so it leaves the caller's token (a long-lived application token
    /// would otherwise keep one registration per stopped device), and keeps none from now on. A link in use was taken
    /// out by its waiter, which disposes it when it returns it: nothing is disposed under a wait.
    /// </summary>
    internal void Close()
    {
        Interlocked.Exchange(ref _closed, 1);
        Interlocked.Exchange(ref _cached, null)?.Source.Dispose();
    }
}
