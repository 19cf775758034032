using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VirtioRpmsg.Memory;

namespace VirtioRpmsg.TestPeer;

/// <summary>
/// Mode "guard-page BACKING WHERE": maps a two-page region with guard pages and writes one byte
/// through a raw reference, bypassing the lease's bounds check. WHERE is "inside" (the last byte of
/// the region: must succeed, exit 0), "after" (one byte past the end) or "before" (one byte before the
/// start): both must fault, so this process must die and never print "SURVIVED".
/// </summary>
public static class GuardPagePeer
{
    public static int Run(string[] args)
    {
        if (args.Length != 3)
        {
            Console.Error.WriteLine("usage: guard-page anonymous|memfd inside|after|before");
            return 2;
        }
        long size = 2L * Environment.SystemPageSize;
        using var region = args[1] switch
        {
            "anonymous" => SharedMemoryRegion.CreateAnonymous(size, guardPages: true),
            "memfd" => SharedMemoryRegion.CreateMemFd("vrpmsg-test-guard", size, guardPages: true),
            _ => throw new ArgumentException($"unknown backing '{args[1]}'", nameof(args)),
        };
        using var lease = region.Acquire();
        var span = lease.GetSpan(0, (int)size);
        ref byte first = ref MemoryMarshal.GetReference(span);
        nint delta = args[2] switch
        {
            "inside" => span.Length - 1,
            "after" => span.Length,
            "before" => -1,
            _ => throw new ArgumentException($"unknown position '{args[2]}'", nameof(args)),
        };
        ref byte target = ref Unsafe.Add(ref first, delta);
        Console.WriteLine("READY");
        Console.Out.Flush();
        Volatile.Write(ref target, 0x5A);
        Console.WriteLine(args[2] == "inside" ? "TOUCHED" : "SURVIVED");
        return args[2] == "inside" ? 0 : 4;
    }
}
