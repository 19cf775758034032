using VirtioRpmsg.Chaos;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// Issue 16 item 4: a remote announcing without end cannot grow our memory (per device, i.e. per vdev). In the
/// collection that runs on its own: the heap test reads the whole process's heap, which a test running beside it
/// grew by 4.6 MB once in CI (alone it reads flat: -152 bytes over 9,000 cycles).
/// </summary>
[Collection(nameof(Memory.ResourceCountingCollection))]
public class RpmsgNameServiceFloodTests
{
    private const int Limit = 64;

    [Fact]
    public void Flood_OfDistinctAnnouncements_StopsAtMaxAnnouncedServices_CountsAndLogsTheRest()
    {
        var log = new ChaosLog();
        using var loop = RpmsgLoopback.Create(host: o =>
        {
            o.MaxAnnouncedServices = Limit;
            o.Logger = log;
        });
        loop.Host.RegisterDriver(new RpmsgServiceDriver("bound") { Receive = (_, _, _) => { } });
        using var sender = loop.Remote.CreateEndpoint(0x700);
        const int Bound = 10, Unbound = 990;
        for (int i = 0; i < Bound + Unbound; i++)
            Announce(sender, i < Bound ? "bound" : $"flood-{i}", 0x1000u + (uint)i, NameServiceFlags.Create);

        loop.WaitUntil(() => loop.Host.Counters.NameServiceRefused == Bound + Unbound - Limit, "every announcement past the limit counted");
        Assert.Equal(Bound, loop.Host.Channels.Count);
        Assert.Equal(0, loop.Host.Counters.Errors);
        Assert.Contains(log.Entries, l => l.Contains("refused", StringComparison.Ordinal) && l.Contains($"MaxAnnouncedServices = {Limit}", StringComparison.Ordinal));
        Assert.Contains($"ns-refused={Bound + Unbound - Limit}", loop.Host.Dump(), StringComparison.Ordinal);
    }

    [Fact]
    public void Destroy_FreesASlot_NextAnnouncementIsAccepted()
    {
        using var loop = RpmsgLoopback.Create(host: o => o.MaxAnnouncedServices = 2);
        var unbound = new List<string>();
        loop.Host.UnboundService += (name, _) =>
        {
            lock (unbound)
                unbound.Add(name);
        };
        using var sender = loop.Remote.CreateEndpoint(0x700);
        Announce(sender, "a", 0x800, NameServiceFlags.Create);
        Announce(sender, "b", 0x801, NameServiceFlags.Create);
        Announce(sender, "c", 0x802, NameServiceFlags.Create);
        loop.WaitUntil(() => loop.Host.Counters.NameServiceRefused == 1, "the third announcement refused");

        Announce(sender, "a", 0x800, NameServiceFlags.Destroy);
        Announce(sender, "c", 0x802, NameServiceFlags.Create);
        loop.WaitUntil(() => { lock (unbound) return unbound.Contains("c"); }, "the slot freed by the destroy is used");
        Assert.Equal(1, loop.Host.Counters.NameServiceRefused);
        lock (unbound)
            Assert.Equal(["a", "b", "c"], unbound);
    }

    [Fact]
    public void MaxAnnouncedServices_BelowOne_IsRefusedByValidate()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => RpmsgLoopback.Create(host: o => o.MaxAnnouncedServices = 0));
        Assert.Equal("MaxAnnouncedServices", e.ParamName);
    }

    internal static void Announce(RpmsgEndpoint sender, string name, uint address, NameServiceFlags flags)
    {
        var message = new byte[NameServiceMessage.Size];
        new NameServiceMessage(name, address, flags).Write(message);
        sender.SendTo(RpmsgAddress.NameService, message);
    }

    // 10,000 announce/destroy cycles leave tables and counters flat.
    [Fact]
    public void TenThousandAnnounceDestroyCycles_LeaveTablesCountersAndHeapFlat()
    {
        using var loop = RpmsgLoopback.Create();
        int added = 0, removed = 0;
        loop.Host.ChannelAdded += _ => Interlocked.Increment(ref added);
        loop.Host.ChannelRemoved += _ => Interlocked.Increment(ref removed);
        loop.Host.RegisterDriver(new RpmsgServiceDriver("svc") { Receive = (_, _, _) => { } });
        int endpointsBefore = loop.Host.Endpoints.Count;
        long memBefore = 0;
        for (int i = 0; i < 10_000; i++)
        {
            if (i == 1000)
            {
                loop.WaitUntil(() => Volatile.Read(ref removed) == 1000, "first 1000 removed");
                GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
                memBefore = GC.GetTotalMemory(true);
            }
            var named = loop.Remote.CreateNamedEndpoint("svc", RpmsgAddress.Any, (_, _, _) => { });
            named.Dispose();
        }
        loop.WaitUntil(() => Volatile.Read(ref removed) == 10_000, "every channel removed");
        GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
        long memAfter = GC.GetTotalMemory(true);
        Assert.Equal(10_000, added);
        Assert.Empty(loop.Host.Channels);
        Assert.Equal(0, loop.Host.UnboundServiceCount);
        Assert.Equal(endpointsBefore, loop.Host.Endpoints.Count);
        Assert.Equal(0, loop.Host.Counters.Errors);
        Assert.Equal(0, loop.Host.Counters.NameServiceDuplicates);
        Assert.True(memAfter - memBefore < 4 << 20, $"managed heap grew {memAfter - memBefore} bytes over 9,000 cycles");
    }
}
