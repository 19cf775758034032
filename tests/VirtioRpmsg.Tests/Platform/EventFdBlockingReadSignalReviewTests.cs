using System.Collections;
using System.Reflection;
using System.Runtime.InteropServices;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>
/// Review (rereview-waits): a blocking eventfd read interrupted by a signal (EINTR: a handler installed without
/// SA_RESTART, by a native library or a profiler) once the deadline has passed must end the wait as a timeout. The
/// loop re-checks the deadline after EINTR; it used to return 0 there, and since e28d534 it breaks out of the loop
/// with the read's -EINTR still in hand, which the error check then threw as a failed read (a doorbell wait failing
/// breaks the device). The deadline's wake-up is held back (its lock) so that the signal, not the wake-up, ends the read.
/// </summary>
public sealed class EventFdBlockingReadSignalReviewTests
{
    private const int SigUsr2 = 12;
    private const int SigActionSize = 152; // x86-64 and arm64 glibc: handler, 128-byte mask, flags, restorer

    [DllImport("libc", EntryPoint = "sigaction", SetLastError = true)]
    private static extern int SigAction(int signal, IntPtr action, IntPtr old);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetTid();

    [DllImport("libc", EntryPoint = "getpid")]
    private static extern int GetPid();

    [DllImport("libc", EntryPoint = "tgkill", SetLastError = true)]
    private static extern int TgKill(int process, int thread, int signal);

    [Fact]
    public void ReadInterruptedBySignal_AfterTheDeadline_IsATimeout_NotAFailedRead()
    {
        Assert.True(OperatingSystem.IsLinux() && (RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64));
        using var local = EventFdDoorbell.Create("vrpmsg-test-eventfd");
        using var peer = local.CreatePeer();
        Assert.True(local.BlocksInRead, "the inbound eventfd should be read with a blocking read() on this kernel");
        var wakerType = typeof(DescriptorWaiter).Assembly.GetType("VirtioRpmsg.Platform.DeadlineWaker")!;
        object wakerLock = wakerType.GetField("s_lock", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!;
        var waiting = (IList)wakerType.GetField("s_waiting", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!;

        // A handler without SA_RESTART (a harmless libc function taking an int): a read it interrupts fails with EINTR.
        IntPtr action = Marshal.AllocHGlobal(SigActionSize), old = Marshal.AllocHGlobal(SigActionSize);
        for (int i = 0; i < SigActionSize; i++)
        {
            Marshal.WriteByte(action, i, 0);
            Marshal.WriteByte(old, i, 0);
        }
        Marshal.WriteIntPtr(action, NativeLibrary.GetExport(NativeLibrary.Load("libc.so.6"), "getpid"));
        Assert.Equal(0, SigAction(SigUsr2, IntPtr.Zero, old));
        Assert.True(Marshal.ReadIntPtr(old) == IntPtr.Zero, "SIGUSR2 already has a handler in this process");
        Assert.Equal(0, SigAction(SigUsr2, action, IntPtr.Zero));
        try
        {
            int tid = 0;
            Exception? failure = null;
            bool result = true;
            var reader = new Thread(() =>
            {
                Volatile.Write(ref tid, GetTid());
                try
                {
                    result = local.Wait(DescriptorWaiter.BlockingReadMinimum);
                }
                catch (Exception e)
                {
                    failure = e;
                }
            }) { IsBackground = true };
            var started = DateTime.UtcNow;
            reader.Start();
            bool held = false;
            try
            {
                // Hold the deadline's wake-up back once the reader has registered for it.
                while (true)
                {
                    Monitor.Enter(wakerLock, ref held);
                    if (waiting.Contains(local.Waiter))
                        break;
                    Monitor.Exit(wakerLock);
                    held = false;
                    Assert.True(DateTime.UtcNow - started < Bounded.Limit, "the reader never registered its deadline");
                    Thread.Yield();
                }
                // The clock passes the deadline (the wake-up cannot come), then signals interrupt the read until the
                // reader, done with it, waits for the lock we hold (to remove its deadline).
                while (DateTime.UtcNow - started < 2 * DescriptorWaiter.BlockingReadMinimum)
                    Thread.Sleep(5);
                while ((reader.ThreadState & ThreadState.WaitSleepJoin) == 0 && reader.IsAlive)
                {
                    Assert.True(DateTime.UtcNow - started < Bounded.Limit, "the signals never ended the read");
                    Assert.Equal(0, TgKill(GetPid(), Volatile.Read(ref tid), SigUsr2));
                    Thread.Sleep(1);
                }
            }
            finally
            {
                if (held)
                    Monitor.Exit(wakerLock);
            }
            Assert.True(reader.Join(Bounded.Limit));
            Assert.True(failure is null, $"the timed-out wait failed: {failure}");
            Assert.False(result, "nothing rang, yet the wait reported a ring");
        }
        finally
        {
            SigAction(SigUsr2, old, IntPtr.Zero);
            Marshal.FreeHGlobal(action);
            Marshal.FreeHGlobal(old);
        }
    }
}
