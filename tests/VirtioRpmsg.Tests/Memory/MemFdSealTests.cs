using System.Diagnostics;
using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.Memory;

/// <summary>
/// Issue 14 item 3: a shared memfd cannot be shrunk under our mapping (which would turn the next ring access
/// into SIGBUS), and a peer's fd that could be is refused before it is mapped.
/// </summary>
public sealed class MemFdSealTests
{
    [Fact]
    public void CreateMemFd_PeerProcessFtruncates_FailsWithEpermAndTheMappingStaysUsable()
    {
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-seal", 0x4000);
        int fd = region.Descriptor!.Value;
        // A real peer: another process opens the memfd through /proc and truncates it to 0.
        var start = new ProcessStartInfo("truncate", ["-s", "0", $"/proc/{Environment.ProcessId}/fd/{fd}"])
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var peer = Process.Start(start)!;
        try
        {
            Assert.True(peer.WaitForExit(TimeSpan.FromSeconds(30)), "truncate did not exit within 30 s");
        }
        finally
        {
            if (!peer.HasExited)
                peer.Kill();
        }
        string error = peer.StandardError.ReadToEnd();
        Assert.NotEqual(0, peer.ExitCode);
        Assert.Contains("Operation not permitted", error);

        // Unsealed, the last page would now be gone and this access would kill the test host with SIGBUS.
        using var lease = region.Acquire();
        lease.WriteUInt64(0x4000 - 8, 0x5EA1ED);
        Assert.Equal(0x5EA1EDul, lease.ReadUInt64(0x4000 - 8));
    }

    [Fact]
    public void CreateMemFd_SealedAgainstShrinkGrowAndNewSeals()
    {
        using var region = SharedMemoryRegion.CreateMemFd("vrpmsg-test-seal", 0x4000);
        int fd = region.Descriptor!.Value;
        Assert.Equal(0, Native.GetSeals(fd, out int seals));
        Assert.Equal(Native.SealShrink | Native.SealGrow | Native.SealSeal, seals);
        Assert.Equal(-Errno.EPERM, Native.Ftruncate(fd, 0));
        Assert.Equal(-Errno.EPERM, Native.Ftruncate(fd, 0x8000));
        // Remap maps the same fd again: F_SEAL_SEAL kept anyone from adding a write seal that would stop it.
        region.Unmap();
        region.Remap();
        using var lease = region.Acquire();
        lease.WriteUInt32(0, 1);
    }

    [Fact]
    public void FromDescriptor_UnsealedMemFd_RefusedNamingFdRegionAndSeals()
    {
        Assert.Equal(0, Native.MemfdCreate("vrpmsg-test-unsealed", out int raw));
        var fd = new FileDescriptor(raw);
        Assert.Equal(0, Native.Ftruncate(raw, 0x4000));

        var e = Assert.Throws<SharedMemorySealException>(() => SharedMemoryRegion.FromDescriptor(fd, "memfd:peer (received)", 0, 0x4000));

        Assert.Contains($"fd {raw}", e.Message);
        Assert.Contains("memfd:peer (received)", e.Message);
        Assert.Contains("seals [none]", e.Message);
        Assert.Contains("F_SEAL_SHRINK", e.Message);
        Assert.Equal(0, e.Seals);
        Assert.Equal(raw, e.Descriptor);
        Assert.True(fd.IsClosed, "a refused descriptor must be closed, not leaked");
    }

    [Fact]
    public void FromDescriptor_GrowSealOnly_RefusedListingTheSealsFound()
    {
        Assert.Equal(0, Native.MemfdCreate("vrpmsg-test-grow-only", out int raw));
        var fd = new FileDescriptor(raw);
        Assert.Equal(0, Native.Ftruncate(raw, 0x4000));
        Assert.Equal(0, AddSeals(raw, Native.SealGrow | Native.SealSeal));

        var e = Assert.Throws<SharedMemorySealException>(() => SharedMemoryRegion.FromDescriptor(fd, "memfd:peer", 0, 0x4000));

        Assert.Contains("seals [F_SEAL_SEAL | F_SEAL_GROW]", e.Message);
        Assert.Equal(Native.SealGrow | Native.SealSeal, e.Seals);
    }

    [Fact]
    public void FromDescriptor_RegularFile_Refused()
    {
        using var files = new TestFiles();
        var fd = FileDescriptor.Open(files.CreateFile("plain", 0x4000), Native.OpenReadWrite);

        var e = Assert.Throws<SharedMemorySealException>(() => SharedMemoryRegion.FromDescriptor(fd, "file:peer", 0, 0x4000));

        Assert.Contains("F_SEAL_SHRINK", e.Message);
        Assert.Contains("file:peer", e.Message);
        Assert.True(fd.IsClosed);
    }

    [Fact]
    public void FromDescriptor_SealedMemFd_Maps()
    {
        Assert.Equal(0, Native.MemfdCreate("vrpmsg-test-sealed", out int raw));
        var fd = new FileDescriptor(raw);
        Assert.Equal(0, Native.Ftruncate(raw, 0x4000));
        Assert.Equal(0, AddSeals(raw, Native.SealShrink));

        using var region = SharedMemoryRegion.FromDescriptor(fd, "memfd:peer", 0, 0x4000);
        using var lease = region.Acquire();
        lease.WriteUInt32(0x3FFC, 7);
        Assert.Equal(7u, lease.ReadUInt32(0x3FFC));
    }

    // fcntl(F_ADD_SEALS) straight from libc: the test plays a peer that sealed only part of what we ask.
    private const int FAddSeals = 1024 + 9;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static extern int Fcntl(int fd, int command, int argument);

    private static int AddSeals(int fd, int seals) => Fcntl(fd, FAddSeals, seals) == 0 ? 0 : -System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
}
