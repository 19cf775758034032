using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Host in the test process, simulated remote in a child (<c>rpmsg remote</c>, via <see cref="SimulatedRemoteProcess"/>).
/// Registers queue-mode drivers for the given service names (the echo service always), starts the host and
/// waits for the link. Dispose always kills the child and removes the shared-memory file. Every wait is bounded.
/// </summary>
internal sealed class CrossProcessRemote : IDisposable
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    private readonly object _gate = new();
    private readonly List<RpmsgChannel> _removed = [];
    private readonly List<(string Name, uint Address)> _unbound = [];

    private CrossProcessRemote(SimulatedRemoteProcess process) => Process = process;

    public SimulatedRemoteProcess Process { get; }

    public RpmsgDevice Host => Process.Host;

    /// <summary>Address of the remote's echo service as the remote reported it.</summary>
    public uint EchoAddress => Process.RemoteEndpoints["echo"];

    /// <summary>Host tx buffers (half the pool).</summary>
    public int TxBuffers => Process.Resources.BufferCount / 2;

    public IReadOnlyList<(string Name, uint Address)> Unbound
    {
        get
        {
            lock (_gate)
                return _unbound.ToArray();
        }
    }

    public static CrossProcessRemote Start(Action<RpmsgDeviceOptions>? host = null, params string[] services)
    {
        var options = new RpmsgDeviceOptions { Name = "test-host", SendTimeout = Limit };
        host?.Invoke(options);
        var process = SimulatedRemoteProcess.StartWithHost(new SimulatedRemoteProcessOptions { RemoteCommand = RemoteCommands.Cli, HostOptions = options, SharedMemoryPrefix = "vrpmsg-test-xp-" });
        var remote = new CrossProcessRemote(process);
        try
        {
            var device = process.Host;
            device.ChannelAdded += _ => remote.Changed();
            device.ChannelRemoved += ch => remote.Changed(() => remote._removed.Add(ch));
            device.UnboundService += (name, address) => remote.Changed(() => remote._unbound.Add((name, address)));
            foreach (var name in services.Prepend(SimulatedRemote.EchoServiceName).Distinct())
                device.RegisterDriver(new RpmsgServiceDriver(name));
            device.Start();
            Assert.True(device.WaitForLinkUp(Limit), "link did not come up");
            // The echo announcement means the remote's side of the link is up too: commands can send.
            remote.WaitForChannel(SimulatedRemote.EchoServiceName);
            return remote;
        }
        catch
        {
            remote.Dispose();
            throw;
        }
    }

    /// <summary>Pulses waiters after running <paramref name="update"/> under the gate (event handlers and test callbacks).</summary>
    public void Changed(Action? update = null)
    {
        lock (_gate)
        {
            update?.Invoke();
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds (re-checked on every <see cref="Changed"/> and at least every 100 ms).</summary>
    public void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Limit;
        lock (_gate)
        {
            while (!condition())
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                    throw new TimeoutException($"timed out waiting for: {what}\nhost: {Host.Dump()}\nremote stderr: {Process.StandardError}");
                Monitor.Wait(_gate, left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100));
            }
        }
    }

    /// <summary>The channel for <paramref name="name"/> (at <paramref name="remoteAddress"/> if given), once it exists.</summary>
    public RpmsgChannel WaitForChannel(string name, uint? remoteAddress = null)
    {
        RpmsgChannel? found = null;
        WaitUntil(() => (found = Host.Channels.FirstOrDefault(c => c.Name == name && (remoteAddress is null || c.RemoteAddress == remoteAddress))) is not null,
            $"channel '{name}'");
        return found!;
    }

    public void WaitForRemoval(RpmsgChannel channel) =>
        WaitUntil(() => _removed.Contains(channel), $"removal of {channel}");

    /// <summary>One echo round trip on <paramref name="endpoint"/> (queue mode) to <paramref name="destination"/>.</summary>
    public static RpmsgReceiveResult RoundTrip(RpmsgEndpoint endpoint, uint destination, ReadOnlySpan<byte> payload, Span<byte> reply)
    {
        endpoint.SendTo(destination, payload, Limit);
        return endpoint.Receive(reply, Limit);
    }

    /// <summary>
    /// Stalls the remote deterministically: after "stall", one message (the plug) makes the remote's dispatcher
    /// block in its handler; once "stats" shows it blocked, nothing more is consumed. Then fills every host tx
    /// buffer and returns how many sends went through after the plug. The plug is echoed after "resume".
    /// </summary>
    public int StallAndFill(RpmsgEndpoint endpoint, ReadOnlySpan<byte> payload)
    {
        Process.Command("stall");
        endpoint.Send(payload, Limit);
        var deadline = DateTime.UtcNow + Limit;
        while (!Process.Command("stats").Contains("blocked=1", StringComparison.Ordinal))
            Assert.True(DateTime.UtcNow < deadline, "the stalled remote never blocked on the plug message");
        int sent = 0;
        while (endpoint.TrySend(payload))
        {
            sent++;
            Assert.True(sent <= 4 * TxBuffers, $"TrySend kept succeeding ({sent} sends) although the remote is stalled");
        }
        return sent;
    }

    public static string Hex(ReadOnlySpan<byte> bytes) => bytes.IsEmpty ? "-" : Convert.ToHexString(bytes);

    public void Dispose() => Process.Dispose();
}
