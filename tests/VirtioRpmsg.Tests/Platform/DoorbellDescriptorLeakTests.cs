using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>Creating and disposing each doorbell kind, and every failed open, leaves the descriptor count unchanged.</summary>
[Collection(DescriptorCountCollection.Name)]
public sealed class DoorbellDescriptorLeakTests
{
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(30);

    private static void AssertNoLeak(Action action) => Memory.ProcessResources.AssertNoLeak(action, settle: true);

    [Fact]
    public void CreateDispose_EventFdPairAndPeer_NoDescriptorLeft() => AssertNoLeak(() =>
    {
        using var host = EventFdDoorbell.Create("vrpmsg-test-leak");
        using var peer = host.CreatePeer();
        host.Ring();
        peer.Wait(TimeSpan.Zero);
    });

    [Fact]
    public void CreateDispose_UnixSocketPairOnPath_NoDescriptorOrFileLeft()
    {
        string path = Path.Combine(Path.GetTempPath(), "vrpmsg-test-leak-" + Guid.NewGuid().ToString("N") + ".sock");
        try
        {
            AssertNoLeak(() =>
            {
                var server = Task.Factory.StartNew(() => UnixSocketDoorbell.Accept(path, Bounded.Limit), TaskCreationOptions.LongRunning);
                using var client = UnixSocketDoorbell.Connect(path, Bounded.Limit);
                using var accepted = Bounded.Await(server);
                client.Ring();
                accepted.Wait(TimeSpan.Zero);
            });
            Assert.False(File.Exists(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void CreateDispose_UioDoorbell_NoDescriptorLeft() => AssertNoLeak(() =>
    {
        using var device = new FakeUioDevice();
        using var doorbell = device.Open();
        device.Interrupt(1);
        doorbell.Wait(TimeSpan.Zero);
    });

    [Fact]
    public void CreateDispose_PollingDoorbell_NoDescriptorLeft() => AssertNoLeak(() =>
    {
        using var doorbell = new PollingDoorbell(() => false);
        doorbell.Wait(TimeSpan.Zero);
    });

    [Fact]
    public void PassMemoryAndDoorbell_ThenDispose_NoDescriptorLeft() => AssertNoLeak(() =>
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
        using (var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-leak", 4096))
        using (var host = EventFdDoorbell.Create("vrpmsg-test-leak"))
        {
            a.SendMemory(region);
            a.SendDoorbell(host);
            using var received = b.ReceiveMemory(Bounded.Limit);
            using var remote = b.ReceiveDoorbell(Bounded.Limit);
        }
    });

    [Fact]
    public void FailedOpen_MissingUioDevice_NoDescriptorLeft()
    {
        string root = Path.Combine(Path.GetTempPath(), "vrpmsg-test-leak-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(root, "uio0"));
        try
        {
            AssertNoLeak(() =>
            {
                Assert.Throws<UioDeviceNotFoundException>(() => UioDoorbell.Open("uio3", sysfsRoot: root));
                Assert.Throws<UioDeviceNotFoundException>(() => UioDoorbell.Open("uio0", sysfsRoot: root, devicePath: Path.Combine(root, "missing-node")));
            });
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void FailedOpen_UioNodeThatRefusesEnable_NoDescriptorLeft()
    {
        string root = Path.Combine(Path.GetTempPath(), "vrpmsg-test-leak-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(root, "uio0"));
        try
        {
            // /dev/full refuses every write (ENOSPC): the interrupt-enable write fails after open.
            AssertNoLeak(() => Assert.ThrowsAny<IOException>(() => UioDoorbell.Open("uio0", sysfsRoot: root, devicePath: "/dev/full")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void FailedOpen_BadSocketPaths_NoDescriptorLeft()
    {
        string missingDir = Path.Combine(Path.GetTempPath(), "vrpmsg-test-leak-" + Guid.NewGuid().ToString("N"), "sub", "x.sock");
        string nobody = Path.Combine(Path.GetTempPath(), "vrpmsg-test-leak-" + Guid.NewGuid().ToString("N") + ".sock");
        AssertNoLeak(() =>
        {
            Assert.Throws<TimeoutException>(() => UnixSocketDoorbell.Connect(nobody, Short));
            Assert.ThrowsAny<IOException>(() => UnixSocketDoorbell.Accept(missingDir, Short));
            Assert.Throws<TimeoutException>(() => UnixSocketDoorbell.Accept(nobody, Short));
            Assert.Throws<TimeoutException>(() => DescriptorPassing.Connect("vrpmsg-test-leak-none-" + Guid.NewGuid().ToString("N"), Short));
        });
        Assert.False(File.Exists(nobody));
    }

    [Fact]
    public void FailedReceive_WrongKind_ClosesReceivedDescriptors() => AssertNoLeak(() =>
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
        using (var host = EventFdDoorbell.Create("vrpmsg-test-leak"))
        {
            a.SendDoorbell(host);
            var e = Assert.Throws<InvalidDataException>(() => b.ReceiveMemory(Bounded.Limit));
            Assert.Contains("kind is 2, expected 1", e.Message);
        }
    });
}
