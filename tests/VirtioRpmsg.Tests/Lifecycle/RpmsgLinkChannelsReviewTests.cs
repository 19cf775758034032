using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>Review (channels): <see cref="RpmsgLink.WaitForChannelAsync(string, int, CancellationToken)"/> and the device's drivers.</summary>
public class RpmsgLinkChannelsReviewTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    // The application registered its own driver for the name on the link's device: the link's registration is refused
    // (ArgumentException), but the wait it had recorded stayed, so the next call found it, registered nothing and waited
    // out the whole Timeout for an announcement no driver of the link would ever bind, then blamed the remote.
    [Fact]
    public async Task DriverRefusedByTheDevice_NextWaitForTheSameNameThrowsAgain_InsteadOfTimingOut()
    {
        using var remote = MultiVdevRemote.Create(0);
        var open = RpmsgLink.OpenAsync(remote.HostDescription, new RpmsgLinkOptions { Timeout = TimeSpan.FromSeconds(10), Device = new RpmsgDeviceOptions { Name = "refused" } });
        remote.StartAll();
        Assert.True(open.Wait(Bound), "the link did not open");
        await using var link = open.Result;
        link.Device.RegisterDriver(new RpmsgServiceDriver("svc"));

        var first = await Assert.ThrowsAsync<ArgumentException>(() => link.WaitForChannelAsync("svc"));
        Assert.Contains("already registered", first.Message);
        var started = DateTime.UtcNow;
        var second = await Record.ExceptionAsync(() => link.WaitForChannelAsync("svc"));

        Assert.True(second is ArgumentException, $"second wait: {second?.GetType().Name}: {second?.Message} after {(DateTime.UtcNow - started).TotalSeconds:F1} s");
    }
}
