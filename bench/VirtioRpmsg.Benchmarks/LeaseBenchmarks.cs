using BenchmarkDotNet.Attributes;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Benchmarks;

/// <summary>Lease acquire + release, uncontended (one thread).</summary>
[MemoryDiagnoser]
public class LeaseBenchmarks
{
    private SharedMemoryRegion _region = null!;

    [GlobalSetup]
    public void Setup() => _region = SharedMemoryRegion.CreateAnonymous(4096);

    [GlobalCleanup]
    public void Cleanup() => _region.Dispose();

    [Benchmark]
    public uint AcquireReadRelease()
    {
        using var lease = _region.Acquire();
        return lease.ReadUInt32(0);
    }
}
