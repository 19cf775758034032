using System.Runtime.InteropServices;
using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// Review (native): when this process has no descriptor number left for the descriptors of a received message, the
/// kernel installs what fits and flags the rest as cut (MSG_CTRUNC), exactly as for a message with more descriptors than
/// the control buffer holds. The shim reported both as -EMSGSIZE, so the receiver blamed the peer ("larger than 226
/// bytes or carries more than 8 descriptors"; over vhost-user a descriptor-count protocol fault of the guest) for its
/// own resource limit. A message cut short while the buffer still had room is this process's limit: -EMFILE.
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public sealed class DescriptorPassingOutOfDescriptorsReviewTests
{
    private const int RLimitNoFile = 7, Emfile = 24;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static extern int GetRLimit(int resource, out RLimit limit);

    [DllImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static extern int SetRLimit(int resource, ref RLimit limit);

    [Fact]
    public void ReceiveDoorbell_ProcessOutOfDescriptorNumbers_IsEmfile_NotABadMessageFromThePeer()
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
        using (var host = EventFdDoorbell.Create("vrpmsg-test-emfile"))
        {
            // The whole receive path once first, so that nothing is loaded or compiled while the limit is low.
            a.SendDoorbell(host);
            b.ReceiveDoorbell(Bounded.Limit).Dispose();
            _ = new NativeCallException("warm-up", "", Emfile).Message;
            a.SendDoorbell(host);
            // Finalizers of earlier tests' handles run now, not in the window the limit is low.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            int before = Memory.ProcessResources.OpenDescriptors();
            Assert.Equal(0, GetRLimit(RLimitNoFile, out var saved));
            // Room for exactly one more number (the lowest free one): the message's first eventfd fits, its second not.
            Assert.Equal(0, Native.Dup(b.Socket.Value, out int lowest));
            Assert.Equal(0, Native.Close(lowest));
            var low = new RLimit { Current = (ulong)lowest + 1, Maximum = saved.Maximum };
            Exception? thrown;
            Assert.Equal(0, SetRLimit(RLimitNoFile, ref low));
            try
            {
                thrown = Record.Exception(() => b.ReceiveDoorbell(TimeSpan.Zero).Dispose());
            }
            finally
            {
                SetRLimit(RLimitNoFile, ref saved);
            }

            Assert.True(thrown is NativeCallException { Errno: Emfile },
                $"receiving 2 descriptors with room for 1 threw {thrown?.GetType().Name}: {thrown?.Message}");
            Assert.Contains("EMFILE", thrown!.Message);
            Assert.Equal(before, Memory.ProcessResources.OpenDescriptors());
        }
    }

    [Fact]
    public void ReceiveMemory_NineDescriptors_CutByTheControlBuffer_IsInvalidData_AndClosesEveryOne()
    {
        var (a, b) = DescriptorPassing.CreatePair();
        using (a)
        using (b)
        using (var host = EventFdDoorbell.Create("vrpmsg-test-nine"))
        {
            int before = Memory.ProcessResources.OpenDescriptors();
            var nine = Enumerable.Repeat(host.PeerInbound.Value, 9).ToArray();
            Assert.Equal(30, RawSendMsg.Send(a.Socket.Value, new byte[30], nine));

            var e = Assert.Throws<InvalidDataException>(() => b.ReceiveMemory(Bounded.Limit));

            Assert.Contains("more than 8 descriptors", e.Message);
            Assert.Equal(before, Memory.ProcessResources.OpenDescriptors());
        }
    }
}
