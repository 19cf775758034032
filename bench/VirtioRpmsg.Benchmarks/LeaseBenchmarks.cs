using BenchmarkDotNet.Attributes;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Benchmarks;

/// <summary>
/// Lease acquire + release (plus one 4-byte read, so the lease is used), uncontended and with a
/// second thread hammering Acquire/Release on the same region on the other core.
/// Targets (issue 2): under 10 ns uncontended; contended no more than 4x worse.
/// </summary>
[MemoryDiagnoser]
public class LeaseBenchmarks
{
    private SharedMemoryRegion _region = null!;
    private RegionHandle _handle;
    private Thread? _contender;
    private volatile bool _stop;

    /// <summary>True: another thread takes and releases leases on the same region the whole time.</summary>
    [Params(false, true)]
    public bool Contended { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _region = SharedMemoryRegion.CreateAnonymous(4096);
        _handle = _region.Bind();
        if (!Contended)
            return;
        _stop = false;
        _contender = new Thread(() =>
        {
            while (!_stop)
            {
                // Far from offset 0 so that only the lease machinery is shared, not a data cache line.
                using var lease = _region.Acquire();
                lease.WriteUInt32(2048, 1);
            }
        })
        { IsBackground = true, Name = "lease-contender" };
        _contender.Start();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stop = true;
        _contender?.Join();
        _region.Dispose();
    }

    [Benchmark(Baseline = true)]
    public uint AcquireReadRelease()
    {
        using var lease = _region.Acquire();
        return lease.ReadUInt32(0);
    }

    [Benchmark]
    public uint HandleAcquireReadRelease()
    {
        using var lease = _handle.Acquire();
        return lease.ReadUInt32(0);
    }
}
