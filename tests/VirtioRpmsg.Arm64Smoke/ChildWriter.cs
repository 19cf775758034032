using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// Child side of <see cref="CrossProcessChecks"/>: maps the file, writes the payload, then publishes
/// it with a store-release of the flag word. Usage: VirtioRpmsg.Arm64Smoke child-write PATH.
/// </summary>
public static class ChildWriter
{
    public const string Mode = "child-write";
    public const long FlagOffset = 0;
    public const long PayloadOffset = 64;
    public const int PayloadLength = 4096;
    public const uint Published = 0x600D_F1A6;

    public static byte PayloadByte(int i) => (byte)(i * 13 + 5);

    public static int Run(string[] args)
    {
        if (args.Length != 1)
        {
            Console.Error.WriteLine($"usage: {Mode} PATH");
            return 2;
        }
        try
        {
            using var region = SharedMemoryRegion.OpenFile(args[0]);
            using var lease = region.Acquire();
            var payload = lease.GetSpan(PayloadOffset, PayloadLength);
            for (int i = 0; i < payload.Length; i++)
                payload[i] = PayloadByte(i);
            // Publish point: the payload is visible before the flag (stlr on ARM64).
            lease.WriteUInt32Release(FlagOffset, Published);
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"{Mode}: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }
}
