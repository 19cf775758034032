using Microsoft.Extensions.Logging;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The name service (Linux's rpmsg_ns): an ordinary client of the bus at address 53. It turns the
/// peer's announcements into channels bound to registered drivers (or reports them as unbound), removes
/// channels on the peer's destroy, and announces our named endpoints. It shares the device's lock for
/// its tables, so a channel and its endpoint appear and disappear together with the state check.
/// </summary>
internal sealed partial class RpmsgNameService
{
    private readonly RpmsgDevice _device;
    private readonly object _sync;
    private readonly RpmsgEndpointTable _endpoints;
    private readonly RpmsgDeviceCounters _counters;
    private readonly List<RpmsgChannel> _channels = [];
    // The channels Stop took: it waits for their Probes, so their probing threads stay known (IsProbingOnCurrentThread).
    private RpmsgChannel[] _takenByStop = [];
    private readonly Dictionary<string, RpmsgServiceDriver> _drivers = new(StringComparer.Ordinal);
    // Announcements no driver handles yet. RegisterDriver leaves the ones it binds here until CreateChannel
    // takes them under the lock, so a DESTROY arriving meanwhile still finds (and removes) them: the bind is cancelled.
    private readonly List<Unbound> _unbound = [];
    // Announcements a driver could not take (Probe threw, endpoint table full) or whose channel the application closed:
    // the peer's services until it withdraws them (Linux keeps such a device on the bus until rpmsg_ns's DESTROY), so
    // that DESTROY is no peer error, a repeated CREATE is a duplicate, and they count towards MaxAnnouncedServices.
    private readonly List<Unbound> _dormant = [];

    // A class: CreateChannel looks for this very entry (a DESTROY then a new CREATE of the same service is another one).
    private sealed class Unbound(string name, uint address)
    {
        internal string Name { get; } = name;
        internal uint Address { get; } = address;
    }

    internal RpmsgNameService(RpmsgDevice device, object sync, RpmsgEndpointTable endpoints, RpmsgDeviceCounters counters)
    {
        _device = device;
        _sync = sync;
        _endpoints = endpoints;
        _counters = counters;
    }

    /// <summary>The current channels (snapshot).</summary>
    internal RpmsgChannel[] Channels
    {
        get
        {
            lock (_sync)
                return _channels.ToArray();
        }
    }

    /// <summary>The names the peer announced and has not withdrawn, bound to a channel or not (snapshot, distinct, in order of arrival within each kind).</summary>
    internal string[] AnnouncedNames
    {
        get
        {
            lock (_sync)
                return [.. _channels.Select(c => c.Name).Concat(_unbound.Select(u => u.Name)).Concat(_dormant.Select(d => d.Name)).Distinct()];
        }
    }

    /// <summary>Announcements no registered driver handles yet.</summary>
    internal int UnboundCount
    {
        get
        {
            lock (_sync)
                return _unbound.Count;
        }
    }

    /// <summary>Our endpoint at address 53. Created by the device at link-up, under its lock, when both sides agreed on the feature.</summary>
    internal RpmsgEndpoint CreateEndpoint() =>
        new(_device, RpmsgAddress.NameService, RpmsgAddress.Any, OnMessage, null, 1);

    /// <summary>True on a thread running the Probe of one of the current channels, or of one Stop took (Stop waits for that Probe).</summary>
    internal bool IsProbingOnCurrentThread
    {
        get
        {
            int self = Environment.CurrentManagedThreadId;
            lock (_sync)
                return _channels.Exists(c => c.ProberThread == self) || Array.Exists(_takenByStop, c => c.ProberThread == self);
        }
    }

    /// <summary>True when a driver for <paramref name="serviceName"/> is registered here.</summary>
    internal bool HasDriver(string serviceName)
    {
        lock (_sync)
            return _drivers.ContainsKey(serviceName);
    }

    /// <summary>
    /// Registers a service driver; announcements already seen for its name are bound now, on this thread. Refused on a
    /// device that stopped or broke (it never probes again): a stale device kept across a recovery is not used silently.
    /// </summary>
    internal void RegisterDriver(RpmsgServiceDriver driver) => AddDriver(driver, refuseUnavailable: true)?.Invoke();

    /// <summary>
    /// Registers a service driver without probing: returns what binds the announcements already seen for its name (null
    /// if none), for the caller to run once it holds none of its own locks (a Probe is the application's code, which
    /// may call back into the caller). From the registration on, a new announcement is bound by the dispatcher; each
    /// pending one is bound once, by the returned action, unless a DESTROY or a stop took it first.
    /// </summary>
    internal Action? AddDriver(RpmsgServiceDriver driver, bool refuseUnavailable = false)
    {
        ArgumentNullException.ThrowIfNull(driver);
        List<Unbound> pending;
        lock (_sync)
        {
            var state = _device.State;
            if (refuseUnavailable && state is (RpmsgDeviceState.Broken or RpmsgDeviceState.Stopped))
                throw _device.Unavailable(state);
            if (!_drivers.TryAdd(driver.ServiceName, driver))
                throw new ArgumentException($"a driver for '{driver.ServiceName}' is already registered on '{_device.Name}'", nameof(driver));
            pending = _unbound.Where(u => u.Name == driver.ServiceName).ToList();
        }
        if (pending.Count == 0)
            return null;
        return () =>
        {
            foreach (var entry in pending)
                CreateChannel(entry.Name, entry.Address, entry);
        };
    }

    private void OnMessage(RpmsgEndpoint ns, uint source, ReadOnlySpan<byte> payload)
    {
        if (!NameServiceMessage.TryParse(payload, out var msg, out var error, out bool truncated))
        {
            if (_counters.CountErrorAndShouldLog(out long errors))
                _counters.LogError($"name-service message from 0x{source:X} rejected: {error}", errors);
            return;
        }
        if (truncated)
            _counters.CountTruncatedName(msg.Name, msg.Address);
        if (msg.Address == RpmsgAddress.NameService)
        {
            if (_counters.CountErrorAndShouldLog(out long errors))
                _counters.LogError($"name-service message for '{PrintableText.Of(msg.Name)}' names the name-service address {msg.Address}", errors);
            return;
        }
        if (msg.Flags != NameServiceFlags.Create)
        {
            foreach (var ept in _endpoints.Named())
            {
                if (ept.Name == msg.Name)
                    ept.UnbindByName(msg.Address);
            }
            // A destroy handed to a Probe still running is reported by the probing thread, after Remove and ChannelRemoved.
            if (!RemoveChannel(msg.Name, msg.Address))
                _device.RaiseServiceDestroyed(msg.Name, msg.Address);
            return;
        }
        if (_device.Options.AllowedServices is { } allowed && !allowed.Contains(msg.Name))
        {
            if (_counters.CountErrorAndShouldLog(out long errors))
                _counters.LogError($"announcement of '{PrintableText.Of(msg.Name)}' at 0x{msg.Address:X} refused: not in AllowedServices", errors);
            return;
        }
        // OpenAMP binds a local endpoint of the same name still waiting for its remote; the announcement also goes to
        // the drivers (a channel, or UnboundService) as before.
        foreach (var ept in _endpoints.Named())
        {
            if (ept.Name == msg.Name)
                ept.BindByName(msg.Address);
        }
        CreateChannel(msg.Name, msg.Address, null);
    }

    /// <summary>Binds an announcement: a new one (<paramref name="pending"/> null), or one RegisterDriver found unbound.</summary>
    private void CreateChannel(string name, uint remoteAddress, Unbound? pending)
    {
        RpmsgChannel? channel = null;
        lock (_sync)
        {
            if (_device.State != RpmsgDeviceState.Running)
                return;
            if (pending is not null)
            {
                // Withdrawn (DESTROY) or forgotten (stop) since RegisterDriver marked it: nothing to bind.
                if (!_unbound.Remove(pending))
                    return;
            }
            else if (_channels.Any(c => c.Name == name && c.RemoteAddress == remoteAddress) || Find(_unbound, name, remoteAddress) >= 0
                || Find(_dormant, name, remoteAddress) >= 0)
            {
                // Seed 003: a repeated announcement must never create a second channel.
                _counters.CountDuplicateAnnouncement(name, remoteAddress);
                return;
            }
            int announced = _channels.Count + _unbound.Count + _dormant.Count;
            // A pending entry was admitted when it arrived (and left _unbound just now).
            if (pending is null && announced >= _device.Options.MaxAnnouncedServices)
            {
                _counters.CountRefusedAnnouncement(name, remoteAddress,
                    $"{announced} services already announced on '{_device.Name}' (MaxAnnouncedServices = {_device.Options.MaxAnnouncedServices})");
                return;
            }
            if (!_drivers.TryGetValue(name, out var driver))
            {
                _unbound.Add(new Unbound(name, remoteAddress));
            }
            else
            {
                if (_endpoints.IsFull)
                {
                    _dormant.Add(new Unbound(name, remoteAddress));
                    _counters.CountRefusedAnnouncement(name, remoteAddress,
                        $"'{_device.Name}' already has {_endpoints.Count} endpoints (MaxEndpoints = {_device.Options.MaxEndpoints})");
                    return;
                }
                var ept = new RpmsgEndpoint(_device, _endpoints.AllocateAddress(), remoteAddress, driver.Receive, null, _device.Options.EndpointQueueCapacity);
                channel = new RpmsgChannel(_device, name, remoteAddress, ept, driver) { ProberThread = Environment.CurrentManagedThreadId };
                ept.Channel = channel;
                _endpoints.Add(ept);
                _channels.Add(channel);
            }
        }
        if (channel is null)
        {
            _device.RaiseUnboundService(name, remoteAddress);
            return;
        }
        bool probed = Probe(channel);
        // ChannelAdded before the probe counts as done: a Stop that took the channel meanwhile waits, so ChannelRemoved
        // (and Remove) always come after it.
        if (probed)
            _device.RaiseChannelAdded(channel);
        bool removeNow, destroyed, ready;
        lock (_sync)
        {
            channel.ProberThread = 0;
            channel.ProbeFailed = !probed;
            removeNow = probed && channel.RemoveHandedOver;
            // Ready for WaitForChannel: probed, ChannelAdded raised, and not removed meanwhile.
            ready = probed && !channel.RemoveHandedOver;
            channel.Ready = ready;
            destroyed = channel.DestroyHandedOver;
            Monitor.PulseAll(_sync);
        }
        if (ready)
            _device.RaiseChannelReady(channel);
        if (removeNow)
            RemoveProbed(channel);
        if (destroyed)
            _device.RaiseServiceDestroyed(channel.Name, channel.RemoteAddress);
    }

    /// <summary>Runs the driver's Probe; on failure the channel is gone (no Remove follows).</summary>
    private bool Probe(RpmsgChannel channel)
    {
        try
        {
            channel.Driver.Probe?.Invoke(channel);
            return true;
        }
        catch (Exception e)
        {
            // Destroyed, and the tx gate passed, before the address is free (as for the peer's DESTROY): a send the Probe
            // started is on the ring by then or refused, never sent later under a new endpoint's address.
            if (channel.Endpoint.MarkDestroyed())
                _device.Tx.Fence();
            // Remove before counting: whoever sees the error counted sees the channel gone.
            lock (_sync)
            {
                // Still listed (no DESTROY or stop took it meanwhile): the peer's service stays known until it withdraws it.
                if (_channels.Remove(channel))
                    _dormant.Add(new Unbound(channel.Name, channel.RemoteAddress));
                _endpoints.Remove(channel.Endpoint);
            }
            _device.ProbeFailedUnpublished?.Invoke(channel.Endpoint);
            // Nobody reads a channel whose Probe failed: what reached its queue meanwhile (a late driver probes on the
            // application's thread while the dispatcher delivers) goes back to the pool and to the device's queue budget.
            channel.Endpoint.WaitForCallbacks();
            _counters.DriverCallbackFailed(e, "probe (channel removed)", channel.Name);
            return false;
        }
    }

    /// <summary>The peer's DESTROY; true if its report (ServiceDestroyed) was handed to the thread still probing the channel.</summary>
    private bool RemoveChannel(string name, uint remoteAddress)
    {
        RpmsgChannel? channel;
        lock (_sync)
        {
            channel = _channels.FirstOrDefault(c => c.Name == name && c.RemoteAddress == remoteAddress);
            if (channel is null)
            {
                // One RegisterDriver is binding too: RegisterDriver's CreateChannel then finds it gone and binds nothing.
                if (!TryRemove(_unbound, name, remoteAddress) && !TryRemove(_dormant, name, remoteAddress) && _counters.CountErrorAndShouldLog(out long errors))
                    _counters.LogError($"name-service destroy for unknown channel '{PrintableText.Of(name)}' at 0x{remoteAddress:X}", errors);
                return false;
            }
            _channels.Remove(channel);
        }
        _device.ChannelDestroying?.Invoke(channel.Endpoint);
        // Destroyed, and the tx gate passed, before the address is free for the next endpoint (as DestroyEndpoint): a
        // send racing this DESTROY is on the ring by then or refused, never sent later under a new endpoint's address.
        if (channel.Endpoint.MarkDestroyed(byPeer: true))
            _device.Tx.Fence();
        lock (_sync)
            _endpoints.Remove(channel.Endpoint);
        channel.Endpoint.WaitForCallbacks(drain: false); // what the peer sent before its DESTROY is still read
        channel.Endpoint.ReceiveQueue?.RetainUnread(); // while no live endpoint needs its share of the queue budget
        return RunRemove(channel, waitForProbe: false, peerDestroyed: true); // the dispatcher never waits for an application's Probe
    }

    private static int Find(List<Unbound> list, string name, uint address) => list.FindIndex(u => u.Name == name && u.Address == address);

    private static bool TryRemove(List<Unbound> list, string name, uint address)
    {
        int index = Find(list, name, address);
        if (index >= 0)
            list.RemoveAt(index);
        return index >= 0;
    }

    /// <summary>
    /// Forgets <paramref name="channel"/> because the application destroyed its endpoint; true if it was still listed.
    /// The peer's service stays known (dormant) until its DESTROY. Caller holds the device lock.
    /// </summary>
    internal bool Forget(RpmsgChannel channel)
    {
        if (!_channels.Remove(channel))
            return false;
        _dormant.Add(new Unbound(channel.Name, channel.RemoteAddress));
        return true;
    }

    /// <summary>Takes every channel and forgets unbound services (stop). Caller holds the device lock.</summary>
    internal RpmsgChannel[] TakeAll()
    {
        var all = _channels.ToArray();
        _takenByStop = all;
        _channels.Clear();
        _unbound.Clear();
        _dormant.Clear();
        return all;
    }

    /// <summary>
    /// Runs the driver's Remove, then raises ChannelRemoved, never while the channel's Probe runs (a late
    /// RegisterDriver probes on the application's thread). Meanwhile <paramref name="waitForProbe"/> (Stop: Remove
    /// must be done before the memory goes) waits for it, unless this is the probing thread; otherwise the removal is
    /// handed to the probing thread, which runs it after its Probe (then raises ServiceDestroyed if
    /// <paramref name="peerDestroyed"/>: the peer's DESTROY is reported after its Remove, as on every path); true if so.
    /// None after a Probe that failed.
    /// </summary>
    internal bool RunRemove(RpmsgChannel channel, bool waitForProbe, bool peerDestroyed = false)
    {
        lock (_sync)
        {
            while (channel.ProberThread != 0)
            {
                if (!waitForProbe || channel.ProberThread == Environment.CurrentManagedThreadId)
                {
                    channel.RemoveHandedOver = true;
                    channel.DestroyHandedOver = peerDestroyed;
                    return true;
                }
                _device.WaitingForProbe?.Invoke();
                Monitor.Wait(_sync);
            }
            if (channel.ProbeFailed)
                return false;
        }
        RemoveProbed(channel);
        return false;
    }

    private void RemoveProbed(RpmsgChannel channel)
    {
        try
        {
            channel.Driver.Remove?.Invoke(channel);
        }
        catch (Exception e)
        {
            _counters.DriverCallbackFailed(e, "remove", channel.Name);
        }
        _device.RaiseChannelRemoved(channel);
    }
}
