using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using VirtioRpmsg.Rpmsg;
using static VirtioRpmsg.Tests.Rpmsg.DoorbellHandOverKit;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// A peer that closes its end of the doorbell (it exited, or closed its socket) is gone, not a failure of this side:
/// the device breaks naming <see cref="FaultRule.DoorbellClosed"/>, without the "dispatcher failed" critical log
/// that reports a bug here (seen against OpenAMP's demo apps, whose exit closes the doorbell socket).
/// </summary>
public class RpmsgDoorbellClosedTests
{
    [Fact]
    public void DispatcherThread_PeerClosesTheDoorbell_BreaksWithDoorbellClosed_NotDispatcherFailed()
    {
        var log = new LevelLog();
        FailingDoorbell? bell = null;
        using var loop = RpmsgLoopback.Create(
            host: o =>
            {
                o.WaitStrategy = RpmsgWaitStrategy.Interrupt;
                o.Logger = log;
            },
            remote: o => o.WaitStrategy = RpmsgWaitStrategy.CallerPoll,
            hostDoorbell: d => bell = new FailingDoorbell(d));
        var broken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Host.StateChanged += (_, state) =>
        {
            if (state == RpmsgDeviceState.Broken)
                broken.TrySetResult();
        };
        bell!.Gone = true;
        loop.Remote.CreateEndpoint(0x601).SendTo(0x5FF, [0]); // a ring: the dispatcher's wait returns into the closed doorbell
        Assert.True(broken.Task.Wait(Bound), "the host did not break when its doorbell closed");
        var fault = Assert.IsType<Fault>(loop.Host.Fault);
        Assert.Equal(FaultRule.DoorbellClosed, fault.Rule);
        Assert.Contains("gone for the test", fault.Message);
        Assert.DoesNotContain(LogLevel.Critical, log.Levels);
    }

    private sealed class LevelLog : ILogger
    {
        public readonly ConcurrentQueue<LogLevel> Levels = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Levels.Enqueue(logLevel);
    }
}
