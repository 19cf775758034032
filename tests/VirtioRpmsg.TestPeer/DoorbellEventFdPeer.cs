using System.Globalization;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.TestPeer;

/// <summary>
/// Mode "doorbell-eventfd NAME ROUNDS": connects to the test's descriptor listener on abstract name
/// NAME, receives a memfd region and an eventfd doorbell, prints READY, then answers ROUNDS pings:
/// each time the u64 at offset 0 moves past the last answer, it copies it to offset 8 and rings.
/// </summary>
public static class DoorbellEventFdPeer
{
    public const long PingOffset = 0;
    public const long PongOffset = 8;

    public static int Run(string[] args)
    {
        // Exit code 0 on stdin EOF: the test closes stdin right after DONE, racing the normal return.
        ParentWatch.ExitWhenStdinCloses(0);
        string name = args[1];
        ulong rounds = ulong.Parse(args[2], CultureInfo.InvariantCulture);
        var timeout = TimeSpan.FromSeconds(30);
        using var channel = DescriptorPassing.Connect(name, timeout);
        using var region = channel.ReceiveMemory(timeout);
        using var doorbell = channel.ReceiveDoorbell(timeout);
        Console.WriteLine("READY");
        ulong answered = 0;
        while (answered < rounds)
        {
            ulong ping;
            using (var lease = region.Acquire())
                ping = lease.ReadUInt64(PingOffset);
            if (ping > answered)
            {
                using (var lease = region.Acquire())
                    lease.WriteUInt64(PongOffset, ping);
                answered = ping;
                doorbell.Ring();
                continue;
            }
            // Re-check memory after every wake: rings may coalesce or be spurious.
            if (!doorbell.Wait(timeout))
            {
                Console.Error.WriteLine($"no ping within {timeout.TotalSeconds} s after {answered}");
                return 1;
            }
        }
        Console.WriteLine("DONE");
        return 0;
    }
}
