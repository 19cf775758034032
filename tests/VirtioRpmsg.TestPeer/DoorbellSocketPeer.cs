using System.Globalization;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.TestPeer;

/// <summary>
/// Mode "doorbell-socket client|server PATH ROUNDS": opens a Unix-socket doorbell in the given role,
/// prints READY, then echoes ROUNDS rings (wait for one, ring back) and prints DONE.
/// </summary>
public static class DoorbellSocketPeer
{
    public static int Run(string[] args)
    {
        // Exit code 0 on stdin EOF: the test closes stdin right after DONE, racing the normal return.
        ParentWatch.ExitWhenStdinCloses(0);
        string role = args[1];
        string path = args[2];
        int rounds = int.Parse(args[3], CultureInfo.InvariantCulture);
        var timeout = TimeSpan.FromSeconds(30);
        using var doorbell = role switch
        {
            "client" => UnixSocketDoorbell.Connect(path, timeout),
            "server" => UnixSocketDoorbell.Accept(path, timeout),
            _ => throw new ArgumentException($"role '{role}' is neither 'client' nor 'server'", nameof(args)),
        };
        Console.WriteLine("READY");
        for (int i = 0; i < rounds; i++)
        {
            if (!doorbell.Wait(timeout))
            {
                Console.Error.WriteLine($"no ring within {timeout.TotalSeconds} s in round {i}");
                return 1;
            }
            if (!doorbell.Ring())
            {
                Console.Error.WriteLine($"ring not delivered in round {i}");
                return 1;
            }
        }
        Console.WriteLine("DONE");
        return 0;
    }
}
