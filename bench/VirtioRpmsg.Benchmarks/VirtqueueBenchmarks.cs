using BenchmarkDotNet.Attributes;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Benchmarks;

/// <summary>
/// Driver and device on one in-process ring (num 256, align 4096), buffers in a second region.
/// AddPublishReclaim is one buffer's full round trip. The two batch benchmarks post 16 buffers and
/// drain them; they differ only in kicking after every add or once per batch, so their difference
/// is the cost of 15 publishes with the fence and notification check. Both queue roles are
/// single-owner; the Synchronized variant makes the same round trip through a
/// <see cref="SynchronizedVirtqueue{TQueue}"/> per role (uncontended gate cost, as the rpmsg transports pay it).
/// </summary>
[MemoryDiagnoser]
public class VirtqueueBenchmarks
{
    private const int Batch = 16;
    private SharedMemoryRegion _ring = null!;
    private SharedMemoryRegion _buffers = null!;
    private VirtqueueDriver _driver = null!;
    private VirtqueueDevice _device = null!;
    private SynchronizedVirtqueue<VirtqueueDriver> _syncDriver = null!;
    private SynchronizedVirtqueue<VirtqueueDevice> _syncDevice = null!;

    [Params(false, true)]
    public bool EventIndex { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var layout = new VringLayout(256, 4096);
        _ring = SharedMemoryRegion.CreateAnonymous(layout.TotalSize, 0x4000_0000);
        _buffers = SharedMemoryRegion.CreateAnonymous(256 * 512, 0x8000_0000);
        var map = new AddressMap().Add(_buffers);
        var vring = new Vring(_ring.Bind(), 0, layout);
        _driver = new VirtqueueDriver("bench", vring, map, EventIndex);
        _device = new VirtqueueDevice("bench", vring, map, EventIndex);
        _syncDriver = new SynchronizedVirtqueue<VirtqueueDriver>(_driver);
        _syncDevice = new SynchronizedVirtqueue<VirtqueueDevice>(_device);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ring.Dispose();
        _buffers.Dispose();
    }

    [Benchmark(Description = "add+publish+take+push+reclaim, 1 buffer")]
    public int AddPublishReclaim()
    {
        _driver.TryAdd(0x8000_0000, 512, deviceWritable: true, token: 1);
        _driver.KickPrepare();
        _device.TryTakeAvailable(out var chain);
        _device.PushUsed(chain.Head, 100);
        _device.NotifyPrepare();
        _driver.TryGetUsed(out int token, out _);
        return token;
    }

    [Benchmark(Description = "same, each call under a SynchronizedVirtqueue gate")]
    public int AddPublishReclaimSynchronized()
    {
        using (var q = _syncDriver.Enter())
        {
            q.Queue.TryAdd(0x8000_0000, 512, deviceWritable: true, token: 1);
            q.Queue.KickPrepare();
        }
        using (var q = _syncDevice.Enter())
        {
            q.Queue.TryTakeAvailable(out var chain);
            q.Queue.PushUsed(chain.Head, 100);
            q.Queue.NotifyPrepare();
        }
        using (var q = _syncDriver.Enter())
        {
            q.Queue.TryGetUsed(out int token, out _);
            return token;
        }
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "16 x (add+publish with notify check), drain; per buffer")]
    public int PublishEveryAdd()
    {
        for (int i = 0; i < Batch; i++)
        {
            _driver.TryAdd(0x8000_0000 + (ulong)i * 512, 512, true, i);
            _driver.KickPrepare();
        }
        return Drain();
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "16 x add, one publish, drain; per buffer")]
    public int PublishOncePerBatch()
    {
        for (int i = 0; i < Batch; i++)
            _driver.TryAdd(0x8000_0000 + (ulong)i * 512, 512, true, i);
        _driver.KickPrepare();
        return Drain();
    }

    private int Drain()
    {
        int sum = 0;
        while (_device.TryTakeAvailable(out var chain))
            _device.PushUsed(chain.Head, 64);
        _device.NotifyPrepare();
        while (_driver.TryGetUsed(out int token, out _))
            sum += token;
        return sum;
    }
}
