using System.CommandLine;
using System.Text;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli.Commands;

/// <summary>
/// <c>rpmsg listen</c>: creates one endpoint on the host (announced under <c>--name</c> through the name
/// service, at a fixed <c>--address</c> or a free one) and prints every message it receives until Ctrl+C,
/// <c>--count</c> messages or <c>--timeout</c>. Against the simulated remote, <c>--remote-sends N</c> makes the
/// remote send N test messages to it.
/// </summary>
internal static class ListenCommand
{
    /// <summary>How often the receive loop looks at the deadline and Ctrl+C.</summary>
    private static readonly TimeSpan s_slice = TimeSpan.FromMilliseconds(250);

    public static Command Create()
    {
        var name = new Option<string?>("--name") { Description = "Announce the endpoint under this service name (name service).", HelpName = "NAME" };
        CliOptions.ValidateServiceName(name);
        var address = CliOptions.Address("--address", "Local address of the endpoint (default: a free one).");
        var count = new Option<int?>("--count", "-n") { Description = "Stop after this many messages.", HelpName = "N" };
        CliOptions.Check(count, value => value is < 1 ? $"--count must be at least 1, not {value}" : null);
        var timeout = new Option<double?>("--timeout") { Description = "Stop after this many seconds.", HelpName = "S" };
        CliOptions.Check(timeout, value => value is { } t && !(t > 0 && t <= 31_536_000) ? $"--timeout must be more than 0 seconds (and at most a year), not {t}" : null); // NaN fails too
        var remoteSends = new Option<int>("--remote-sends")
        {
            Description = "Simulated remote only: have the remote send this many test messages (\"message 1\", ...) to the endpoint.",
            HelpName = "N",
        };
        CliOptions.Check(remoteSends, value => value is < 0 or > 100_000 ? $"--remote-sends must be 0 to 100000, not {value}" : null);
        var format = CliOptions.Format();
        var wait = CliOptions.Wait();
        var platform = CliOptions.Platform();
        var verbose = CliOptions.Verbose();
        var command = new Command("listen", "Create an endpoint and print the messages it receives (until Ctrl+C, --count or --timeout).")
        {
            name, address, count, timeout, remoteSends, format, wait, platform, verbose,
        };
        command.SetAction(parse =>
        {
            bool v = parse.GetValue(verbose);
            uint local = RpmsgAddress.Any;
            if (parse.GetValue(address) is { } a)
                CliOptions.TryParseAddress(a, out local);
            var s = new Settings(parse.GetValue(name), local, parse.GetValue(count), parse.GetValue(timeout) is { } t ? TimeSpan.FromSeconds(t) : null,
                parse.GetValue(remoteSends), parse.GetValue(format)!, CliOptions.ParseWait(parse.GetValue(wait)), parse.GetValue(platform), v);
            return CliRunner.Run("listen", v, ct => Run(s, ct));
        });
        return command;
    }

    private sealed record Settings(string? Name, uint Address, int? Count, TimeSpan? Timeout, int RemoteSends, string Format,
        RpmsgWaitStrategy Wait, FileInfo? Platform, bool Verbose);

    private static int Run(Settings s, CancellationToken ct)
    {
        if (s.RemoteSends > 0 && s.Platform is not null)
            throw new CliFailure("--remote-sends works only with the simulated remote (not with --platform)");
        using var session = HostLink.Open("listen", s.Platform, s.Wait, SimulatedServices.Echo, s.Verbose, s.Verbose ? Console.Error.WriteLine : null, ct);
        var host = session.Host;
        using var endpoint = s.Name is null ? host.CreateEndpoint(s.Address) : host.CreateNamedEndpoint(s.Name, s.Address, handler: null);
        string until = s.Count is { } n ? $"{n} messages" : s.Timeout is { } t ? $"{t.TotalSeconds:0.###} s" : "Ctrl+C";
        Console.WriteLine($"listening on 0x{endpoint.Address:X}{(s.Name is null ? "" : $" (announced as '{s.Name}')")} until {until}");
        Console.Out.Flush();
        int received = Receive(endpoint, s, session.Simulated, ct);
        // Short of --count without Ctrl+C means the timeout ended it.
        if (s.Count is { } expected && received < expected && !ct.IsCancellationRequested)
            throw new CliFailure($"{received} of {expected} messages arrived within {s.Timeout.GetValueOrDefault().TotalSeconds:0.###} s");
        Console.WriteLine($"{received} message(s) received");
        return ExitCodes.Success;
    }

    /// <summary>Prints messages until the count, the timeout or Ctrl+C (the normal way to stop: not an error here).</summary>
    private static int Receive(RpmsgEndpoint endpoint, Settings s, SimulatedRemoteProcess? simulated, CancellationToken ct)
    {
        var buffer = new byte[endpoint.MaxPayload];
        var deadline = Deadline.Within(s.Timeout ?? Timeout.InfiniteTimeSpan);
        int received = 0, sent = 0;
        // The remote's test messages go out as this loop takes them in, never more unread than the endpoint queues:
        // commanded all before the first receive, every one past the queue's capacity was dropped.
        int window = endpoint.Device.Options.EndpointQueueCapacity;
        bool callerPolls = HostLink.CallerPolls(endpoint.Device);
        while (s.Count is not { } n || received < n)
        {
            if (deadline.IsExpired || ct.IsCancellationRequested)
                break;
            for (; sent < s.RemoteSends && sent - received < window; sent++)
            {
                // With --wait poll no dispatcher takes them off the ring while this thread waits for the remote's reply:
                // queued first, so the remote always finds a free rx buffer (it waited for one until its send timeout).
                if (callerPolls)
                {
                    while (endpoint.Device.Poll() > 0) { }
                }
                simulated!.Command($"send 0x{endpoint.Address:X} {Convert.ToHexString(Encoding.UTF8.GetBytes($"message {sent + 1}"))}");
            }
            var slice = TimeSpan.FromMilliseconds(deadline.RemainingMillisecondsCappedAt((int)s_slice.TotalMilliseconds));
            RpmsgReceiveResult r = default;
            bool arrived;
            try
            {
                arrived = callerPolls
                    ? HostLink.PollUntil(endpoint.Device, () => endpoint.TryReceive(buffer, TimeSpan.Zero, out r), slice, ct)
                    : endpoint.TryReceive(buffer, slice, out r, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            if (!arrived)
                continue;
            received++;
            Console.WriteLine($"from 0x{r.Source:X}, {r.Length} bytes: {Payloads.Format(buffer.AsSpan(0, r.Length), s.Format)}");
            Console.Out.Flush();
        }
        return received;
    }
}
