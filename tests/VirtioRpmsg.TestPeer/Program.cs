using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.TestPeer;

/// <summary>
/// Child-process side of cross-process tests. Usage: VirtioRpmsg.TestPeer MODE [args...].
/// Protocol with the test: the peer prints "READY" on stdout once set up, reads commands from stdin
/// if its mode needs them, and exits 0 on success or non-zero with a one-line reason on stderr.
/// It also exits when stdin closes, so a dying test never leaves it behind.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // "remote ...": the simulated remote's entry point, as the child of a SimulatedRemoteProcess.
        if (SimulatedRemoteChild.TryRun(args, out int code))
            return code;
        if (args.Length == 0)
        {
            Console.Error.WriteLine("usage: VirtioRpmsg.TestPeer MODE [args...]");
            return 2;
        }
        try
        {
            return args[0] switch
            {
                "echo-lines" => EchoLines(),
                "doorbell-eventfd" => DoorbellEventFdPeer.Run(args),
                "doorbell-socket" => DoorbellSocketPeer.Run(args),
                "virtqueue-device" => VirtqueuePeer.Run(args),
                "guard-page" => GuardPagePeer.Run(args),
                "far-deadline" => FarDeadlinePeer.Run(args),
                _ => Unknown(args[0]),
            };
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"{args[0]}: {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }

    private static int Unknown(string mode)
    {
        Console.Error.WriteLine($"unknown mode '{mode}'");
        return 2;
    }

    // Smoke mode for the harness itself: echoes stdin lines until "quit" or EOF.
    private static int EchoLines()
    {
        Console.WriteLine("READY");
        string? line;
        while ((line = Console.ReadLine()) != null && line != "quit")
            Console.WriteLine(line);
        return 0;
    }
}
