using BenchmarkDotNet.Attributes;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Benchmarks;

/// <summary>
/// Cost of one Ring per doorbell kind (the notify hot path). The socket peer is drained after
/// every batch so that rings measure a real one-byte send, not a refused one on a full buffer.
/// </summary>
[MemoryDiagnoser]
public class DoorbellBenchmarks
{
    private const int Batch = 64;

    private EventFdDoorbell _eventFd = null!;
    private EventFdDoorbell _eventFdPeer = null!;
    private UnixSocketDoorbell _socketClient = null!;
    private UnixSocketDoorbell _socketServer = null!;
    private PollingDoorbell _polling = null!;

    [GlobalSetup]
    public void Setup()
    {
        _eventFd = EventFdDoorbell.Create("bench");
        _eventFdPeer = _eventFd.CreatePeer();
        string address = "@vrpmsg-bench-" + Guid.NewGuid().ToString("N");
        var server = Task.Run(() => UnixSocketDoorbell.Accept(address, TimeSpan.FromSeconds(30)));
        _socketClient = UnixSocketDoorbell.Connect(address, TimeSpan.FromSeconds(30));
        _socketServer = server.GetAwaiter().GetResult();
        _polling = new PollingDoorbell(() => false);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _eventFd.Dispose();
        _eventFdPeer.Dispose();
        _socketClient.Dispose();
        _socketServer.Dispose();
        _polling.Dispose();
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public bool EventFdRing()
    {
        bool ok = true;
        for (int i = 0; i < Batch; i++)
            ok &= _eventFd.Ring();
        _eventFdPeer.Drain();
        return ok;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public bool UnixSocketRing()
    {
        bool ok = true;
        for (int i = 0; i < Batch; i++)
            ok &= _socketClient.Ring();
        _socketServer.Drain();
        return ok;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public bool PollingRing()
    {
        bool ok = true;
        for (int i = 0; i < Batch; i++)
            ok &= _polling.Ring();
        return ok;
    }
}
