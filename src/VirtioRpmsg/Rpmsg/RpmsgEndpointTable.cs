using System.Collections.Concurrent;

namespace VirtioRpmsg.Rpmsg;

/// <summary>
/// The device's local addresses. Lookups (the dispatcher, per message) are lock-free; every change
/// happens under the device's lock (the caller holds it), together with the state check that decides
/// whether the change is still allowed.
/// </summary>
internal sealed class RpmsgEndpointTable
{
    private readonly ConcurrentDictionary<uint, RpmsgEndpoint> _endpoints = new();
    private readonly string _device;
    private readonly int _max;

    internal RpmsgEndpointTable(string device, int maxEndpoints)
    {
        _device = device;
        _max = maxEndpoints;
    }

    internal int Count => _endpoints.Count;

    internal bool IsFull => _endpoints.Count >= _max;

    internal bool TryGet(uint address, out RpmsgEndpoint endpoint) => _endpoints.TryGetValue(address, out endpoint!);

    /// <summary>Snapshot in address order.</summary>
    internal RpmsgEndpoint[] Snapshot() => _endpoints.Values.OrderBy(e => e.Address).ToArray();

    /// <summary>
    /// The address a new application endpoint gets: <paramref name="address"/>, or the lowest free
    /// dynamic one for <see cref="RpmsgAddress.Any"/>. Throws when the table is full or the address is
    /// taken or reserved. Caller holds the device lock.
    /// </summary>
    internal uint Claim(uint address)
    {
        if (IsFull)
            throw new InvalidOperationException($"rpmsg device '{_device}' already has {_endpoints.Count} endpoints (MaxEndpoints = {_max})");
        if (address == RpmsgAddress.Any)
            return AllocateAddress();
        if (address == RpmsgAddress.NameService)
            throw new ArgumentException($"address {RpmsgAddress.NameService} is the name-service endpoint", nameof(address));
        if (_endpoints.ContainsKey(address))
            throw new ArgumentException($"address 0x{address:X} is already in use on '{_device}'", nameof(address));
        return address;
    }

    /// <summary>Lowest free dynamic address, so freed addresses are reused (as Linux's idr does). Caller holds the device lock.</summary>
    internal uint AllocateAddress()
    {
        for (uint a = RpmsgAddress.FirstDynamic; a < RpmsgAddress.Any; a++)
        {
            if (!_endpoints.ContainsKey(a))
                return a;
        }
        throw new InvalidOperationException("no free rpmsg address");
    }

    /// <summary>Publishes <paramref name="endpoint"/> at its address. Caller holds the device lock.</summary>
    internal void Add(RpmsgEndpoint endpoint) => _endpoints[endpoint.Address] = endpoint;

    /// <summary>Unpublishes <paramref name="endpoint"/> if it is still the one at its address. Caller holds the device lock.</summary>
    internal bool Remove(RpmsgEndpoint endpoint) =>
        _endpoints.TryRemove(new KeyValuePair<uint, RpmsgEndpoint>(endpoint.Address, endpoint));

    /// <summary>Unpublishes everything (stop). Caller holds the device lock.</summary>
    internal RpmsgEndpoint[] TakeAll()
    {
        var all = _endpoints.Values.ToArray();
        _endpoints.Clear();
        return all;
    }

    /// <summary>Endpoints announced under a service name.</summary>
    internal RpmsgEndpoint[] Named() => _endpoints.Values.Where(e => e.Name is not null).ToArray();

    /// <summary>Every endpoint, unordered (for waking waiters).</summary>
    internal ICollection<RpmsgEndpoint> All => _endpoints.Values;
}
