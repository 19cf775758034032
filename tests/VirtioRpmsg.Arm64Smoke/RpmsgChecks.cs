using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// rpmsg echo across two processes: this process is the host (virtio driver side); the remote is this
/// program again (<see cref="RpmsgRemoteChild"/>), over a /dev/shm file with eventfd doorbells passed
/// over a Unix socket (<see cref="SimulatedRemoteProcess"/> does the host side and always cleans up).
/// </summary>
public static class RpmsgChecks
{
    private const int Messages = 300;
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(60);

    public static IEnumerable<SmokeCheck> All()
    {
        yield return new("Rpmsg: host here, remote in a child process; name service binds rpmsg-echo and every echo comes back intact",
            () => EchoAcrossProcesses(RpmsgWaitStrategy.Interrupt));
        // A busy-polling dispatcher's looks read-prefetch each message's buffer: on ARM64 the shim's vr_prefetch_read.
        yield return new("Rpmsg: the same with the host's dispatcher busy-polling (its looks prefetch each buffer: prfm pldl1keep)",
            () => EchoAcrossProcesses(RpmsgWaitStrategy.BusyPoll));
    }

    private static void EchoAcrossProcesses(RpmsgWaitStrategy hostWait)
    {
        string shm;
        using (var simulated = SimulatedRemoteProcess.StartWithHost(new SimulatedRemoteProcessOptions
        {
            RemoteCommand = CrossProcessChecks.SelfCommand([RpmsgRemoteChild.Mode]),
            SharedMemoryPrefix = "vrpmsg-test-smoke-echo-",
            // A cold .NET start under qemu-user takes seconds.
            StartTimeout = TimeSpan.FromSeconds(120),
            StopTimeout = TimeSpan.FromSeconds(30),
            HostOptions = new RpmsgDeviceOptions { Name = "smoke-host", SendTimeout = Step, WaitStrategy = hostWait },
        }))
        {
            shm = simulated.SharedMemoryPath;
            var host = simulated.Host;
            var bound = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
            host.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName) { Probe = ch => bound.TrySetResult(ch) });
            host.Start();
            Expect.True(host.WaitForLinkUp(Step), $"link up within {Step.TotalSeconds} s");
            Expect.True(bound.Task.Wait(Step), $"'{SimulatedRemote.EchoServiceName}' announced within {Step.TotalSeconds} s");
            var channel = bound.Task.Result;
            EchoRoundTrips(channel, Messages);
            Expect.Equal(0L, host.Counters.Errors, "host error counter");
        }
        Expect.True(!File.Exists(shm), $"{shm} removed");
    }

    /// <summary>Sends <paramref name="count"/> messages of varying length and content on <paramref name="channel"/>; checks every echo.</summary>
    public static void EchoRoundTrips(RpmsgChannel channel, int count)
    {
        var endpoint = channel.Endpoint;
        var echo = new byte[endpoint.MaxPayload];
        for (int i = 0; i < count; i++)
        {
            var payload = new byte[1 + i % endpoint.MaxPayload];
            for (int j = 0; j < payload.Length; j++)
                payload[j] = (byte)(i * 31 + j * 7);
            endpoint.Send(payload, Step);
            Expect.True(endpoint.TryReceive(echo, Step, out RpmsgReceiveResult received), $"echo of message {i} within {Step.TotalSeconds} s");
            Expect.Equal(channel.RemoteAddress, received.Source, $"source of echo {i}");
            Expect.True(echo.AsSpan(0, received.Length).SequenceEqual(payload), $"echo {i} equals what was sent ({received.Length} bytes back for {payload.Length})");
        }
    }
}
