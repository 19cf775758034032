using System.Collections.Concurrent;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Platform;
using VirtioRpmsg.Tests.Simulation;

namespace VirtioRpmsg.Tests.Lifecycle;

/// <summary>
/// Seed 000: a stop that raced with writers unmapped memory under a sender and panicked. Here eight
/// threads send continuously while the remote is stopped and the region really unmapped, a thousand
/// times; every send either succeeds or throws the documented <see cref="RpmsgDeviceUnavailableException"/>.
/// Runs alone: it saturates both cores.
/// </summary>
[Collection(DescriptorCountCollection.Name)]
public class RemoteProcessorStopRaceTests
{
    private const int Iterations = 1000;
    private const int Senders = 8;
    private static readonly TimeSpan Bound = SimulatedRemoteRig.Bound;

    private readonly object _gate = new();
    private readonly ConcurrentQueue<Exception> _unexpected = new();
    private RpmsgChannel? _current;
    private int _epoch;
    private volatile bool _done;
    private long _sent;
    private long _refused;
    private int _failedThisEpoch;

    [Fact]
    public void Stop_EightThreadsSending_EverySendSucceedsOrThrowsUnavailable()
    {
        using var rig = SimulatedRemoteRig.Create(echoDriver: false);
        var rp = rig.Processor;
        // Replies are dropped on arrival: only the sends matter here.
        rp.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName) { Receive = (_, _, _) => { } });
        var threads = Enumerable.Range(0, Senders).Select(i => new Thread(SendLoop) { IsBackground = true, Name = "seed000-sender-" + i }).ToArray();
        foreach (var t in threads)
            t.Start();
        try
        {
            for (int i = 0; i < Iterations; i++)
            {
                rp.Start();
                var channel = rp.WaitForChannel(SimulatedRemote.EchoServiceName, Bound);
                long sentBefore = Interlocked.Read(ref _sent);
                lock (_gate)
                {
                    _failedThisEpoch = 0;
                    _current = channel;
                    _epoch++;
                    Monitor.PulseAll(_gate);
                }
                // Let the senders get going, so the stop lands on sends in flight.
                Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref _sent) >= sentBefore + Senders || !_unexpected.IsEmpty, Bound), $"iteration {i}: sends did not flow");
                int generation = rig.Region.Generation;

                rp.Stop();

                Assert.False(rig.Region.IsMapped, $"iteration {i}: the region is still mapped after stop");
                Assert.True(rig.Region.Generation > generation);
                // Every sender has seen the stop (with the documented exception) before the next start.
                Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref _failedThisEpoch) == Senders, Bound), $"iteration {i}: not every sender saw the stop");
                Assert.Empty(_unexpected);
            }
        }
        finally
        {
            lock (_gate)
            {
                _done = true;
                Monitor.PulseAll(_gate);
            }
            foreach (var t in threads)
                Assert.True(t.Join(Bound), "a sender did not finish");
        }
        Assert.Empty(_unexpected);
        Assert.True(Interlocked.Read(ref _sent) >= Iterations * Senders);
        Assert.True(Interlocked.Read(ref _refused) >= Iterations * Senders);
    }

    private void SendLoop()
    {
        byte[] payload = new byte[32];
        int failedEpoch = 0;
        while (true)
        {
            RpmsgChannel channel;
            int epoch;
            lock (_gate)
            {
                // After a failure, wait for the next start instead of spinning on a stopped device.
                while (!_done && (_current is null || _epoch == failedEpoch))
                    Monitor.Wait(_gate);
                if (_done)
                    return;
                channel = _current!;
                epoch = _epoch;
            }
            try
            {
                channel.Send(payload);
                Interlocked.Increment(ref _sent);
                continue;
            }
            catch (RpmsgDeviceUnavailableException)
            {
                Interlocked.Increment(ref _refused);
            }
            catch (Exception e)
            {
                _unexpected.Enqueue(e);
            }
            failedEpoch = epoch;
            lock (_gate)
            {
                if (epoch == _epoch)
                    _failedThisEpoch++;
            }
        }
    }
}
