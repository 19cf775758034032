using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Cli;

internal static class Demo
{
    internal static int Run()
    {
        using var region = SharedMemoryRegion.CreateAnonymous(4096, deviceAddress: 0x10000);
        using (var lease = region.Acquire())
            lease.WriteUInt32Release(0, 42);
        Console.WriteLine($"mapped {region}");
        region.Unmap();
        try
        {
            using var lease = region.Acquire();
        }
        catch (RegionClosedException e)
        {
            Console.WriteLine($"after unmap: {e.Message}");
        }
        return 0;
    }
}
