using VirtioRpmsg.Chaos;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// rereview-e: f366366 printed the peer's service names escaped (PrintableText) in the link's timeout, the name
/// service's warnings and RpmsgChannel.ToString, but three more places print a channel's name, which is the peer's
/// announced text: the ObjectDisposedException of an endpoint whose channel the peer withdrew, the drop warning and
/// RpmsgMessagesDroppedException of a withdrawn channel's reclaimed messages, and the error logged when a driver's Probe
/// or Remove throws. A name with a line break or a terminal escape went raw into those messages and log lines.
/// </summary>
public sealed class PeerChannelNameEscapedRereviewTests
{
    private const string HostileName = "evil\r\nFAKE\u001b[2J";
    private const string Escaped = @"evil\u000D\u000AFAKE\u001B[2J";

    private static bool HasControl(string text) => text.Any(char.IsControl);

    [Fact]
    public void SendOnAChannelThePeerWithdrew_ObjectDisposedMessage_PrintsThePeersNameEscaped()
    {
        using var loop = RpmsgLoopback.Create(
            host: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll);
        RpmsgChannel? channel = null;
        loop.Host.RegisterDriver(new RpmsgServiceDriver(HostileName) { Probe = ch => Volatile.Write(ref channel, ch) });
        var service = loop.Remote.CreateNamedEndpoint(HostileName, RpmsgAddress.Any, (_, _, _) => { });
        loop.WaitUntil(() => Volatile.Read(ref channel) is not null, "the channel is probed");
        service.Dispose(); // the peer's DESTROY
        loop.WaitUntil(() => channel!.Endpoint.IsDestroyed, "the peer's DESTROY destroyed the channel's endpoint");

        var e = Assert.Throws<ObjectDisposedException>(() => channel!.Send([1]));

        Assert.Contains("the peer's name-service DESTROY", e.Message, StringComparison.Ordinal);
        // The framework's own "Object name" line follows after a line break: the peer's text must bring none.
        Assert.DoesNotContain("\r\nFAKE", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b", e.Message, StringComparison.Ordinal);
        Assert.Contains(Escaped, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DriverProbeThrows_TheErrorLogged_PrintsThePeersNameEscaped()
    {
        var log = new ChaosLog();
        using var loop = RpmsgLoopback.Create(host: o => o.Logger = log);
        loop.Host.RegisterDriver(new RpmsgServiceDriver(HostileName) { Probe = _ => throw new InvalidOperationException("probe refused") });
        using var service = loop.Remote.CreateNamedEndpoint(HostileName, RpmsgAddress.Any, (_, _, _) => { });
        loop.WaitUntil(() => log.Entries.Any(l => l.Contains("probe refused", StringComparison.Ordinal) || l.Contains("probe (channel removed)", StringComparison.Ordinal)),
            "the failed Probe is logged");

        var lines = log.Entries.Where(l => l.Contains("probe (channel removed)", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.False(HasControl(l), "control characters in the log line: " + l));
        Assert.All(lines, l => Assert.Contains(Escaped, l, StringComparison.Ordinal));
    }
}
