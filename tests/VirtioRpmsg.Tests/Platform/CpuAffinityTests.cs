using System.Diagnostics;
using VirtioRpmsg.Interop;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

public class CpuAffinityTests
{
    // Pinning changes the calling OS thread for good, so every pin happens on a thread of its own,
    // never on a test-runner or thread-pool thread.
    private static T OnOwnThread<T>(Func<T> body)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = body();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)), "pinning thread did not finish");
        if (failure is not null)
            throw failure;
        return result;
    }

    [Fact]
    public void PinCurrentThread_EachAvailableCpu_ThreadRunsThere()
    {
        for (int cpu = 0; cpu < Environment.ProcessorCount; cpu++)
        {
            int pinned = cpu;
            int seen = OnOwnThread(() =>
            {
                CpuAffinity.PinCurrentThread(pinned);
                Thread.Yield();
                return CpuAffinity.GetCurrentCpu();
            });
            Assert.Equal(cpu, seen);
        }
    }

    [Fact]
    public void PinCurrentThread_ThenUnpin_AllowsEveryCpuAgain()
    {
        int count = OnOwnThread(() =>
        {
            CpuAffinity.PinCurrentThread(0);
            Assert.Equal(1, CpuAffinity.AvailableCpuCount);
            CpuAffinity.UnpinCurrentThread();
            return CpuAffinity.AvailableCpuCount;
        });

        Assert.Equal(Environment.ProcessorCount, count);
    }

    [Fact]
    public void PinCurrentThread_CpuThatDoesNotExist_ThrowsEinvalNamingTheCpu()
    {
        var e = Assert.Throws<NativeCallException>(() => OnOwnThread(() =>
        {
            CpuAffinity.PinCurrentThread(1000);
            return 0;
        }));

        Assert.Equal(Errno.EINVAL, e.Errno);
        Assert.Contains("cpu 1000", e.Message);
    }

    [Fact]
    public void PinCurrentThread_NegativeCpu_ThrowsArgumentOutOfRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuAffinity.PinCurrentThread(-1));
    }

    [Fact]
    public void PinProcess_ChildProcess_EveryThreadAllowedOnlyThatCpu()
    {
        using var child = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            CpuAffinity.PinProcess(child.Id, 0);

            string status = File.ReadAllText($"/proc/{child.Id}/status");
            string allowed = status.Split('\n').Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
            Assert.Equal("0", allowed["Cpus_allowed_list:".Length..].Trim());
        }
        finally
        {
            child.Kill();
            child.WaitForExit(10_000);
        }
    }

    [Fact]
    public void PinProcess_NoSuchProcess_ThrowsNamingThePid()
    {
        var e = Assert.Throws<NativeCallException>(() => CpuAffinity.PinProcess(int.MaxValue, 0));

        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains(int.MaxValue.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message);
    }
}
