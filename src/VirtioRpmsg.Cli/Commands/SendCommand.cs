using System.CommandLine;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli.Commands;

/// <summary>
/// <c>rpmsg send</c>: sends one message to a service announced by the remote (or to a fixed address), then
/// prints the replies that arrive within <c>--reply-timeout</c> (the echo service sends the message back).
/// </summary>
internal static class SendCommand
{
    /// <summary>After the first reply, how long to wait for each further one (replies to one message come together).</summary>
    private static readonly TimeSpan s_moreReplies = TimeSpan.FromMilliseconds(200);

    public static Command Create()
    {
        var service = CliOptions.Service("Service to send to, as announced by the remote.");
        var to = CliOptions.Address("--to", "Send to this remote address instead of a service (from a new unannounced endpoint).");
        var text = new Option<string?>("--text", "-t") { Description = "Payload: this text (UTF-8).", HelpName = "TEXT" };
        var hex = new Option<string?>("--hex", "-x") { Description = "Payload: these bytes in hex (e.g. 01ff or \"01 ff\").", HelpName = "HEX" };
        var file = new Option<string?>("--file", "-f") { Description = "Payload: the contents of this file; - reads standard input.", HelpName = "PATH|-" };
        var replyTimeout = new Option<double>("--reply-timeout")
        {
            Description = "Seconds to wait for a reply after sending (0: do not wait); further replies are printed while they keep coming (200 ms apart at most).",
            DefaultValueFactory = _ => 2,
            HelpName = "S",
        };
        CliOptions.Check(replyTimeout, value => !(value >= 0 && value <= 3600) ? $"--reply-timeout must be 0 to 3600 seconds, not {value}" : null); // NaN fails too
        var format = CliOptions.Format();
        var wait = CliOptions.Wait();
        var platform = CliOptions.Platform();
        var verbose = CliOptions.Verbose();
        var command = new Command("send", "Send one message to a service (or address) of the remote and print the replies.")
        {
            service, to, text, hex, file, replyTimeout, format, wait, platform, verbose,
        };
        command.SetAction(parse =>
        {
            bool v = parse.GetValue(verbose);
            var s = new Settings(parse.GetValue(service)!, parse.GetValue(to), parse.GetValue(text), parse.GetValue(hex), parse.GetValue(file),
                TimeSpan.FromSeconds(parse.GetValue(replyTimeout)), parse.GetValue(format)!, CliOptions.ParseWait(parse.GetValue(wait)), parse.GetValue(platform), v);
            return CliRunner.Run("send", v, ct => Run(s, ct));
        });
        return command;
    }

    private sealed record Settings(string Service, string? To, string? Text, string? Hex, string? File, TimeSpan ReplyTimeout, string Format,
        RpmsgWaitStrategy Wait, FileInfo? Platform, bool Verbose);

    private static int Run(Settings s, CancellationToken ct)
    {
        // Read the payload first: a bad one fails before a remote is started.
        byte[] payload = Payloads.Read(s.Text, s.Hex, s.File, maxLength: 496);
        using var session = HostLink.Open("send", s.Platform, s.Wait, SimulatedServices.Echo | SimulatedServices.Sink, s.Verbose, s.Verbose ? Console.Error.WriteLine : null, ct);
        var host = session.Host;
        if (payload.Length > host.MaxPayload)
            throw new CliFailure($"the payload is {payload.Length} bytes; one message holds at most {host.MaxPayload}");
        RpmsgEndpoint endpoint;
        RpmsgEndpoint? own = null;
        string target;
        if (s.To is not null)
        {
            CliOptions.TryParseAddress(s.To, out uint destination);
            own = host.CreateEndpoint();
            endpoint = own;
            own.SendTo(destination, payload, HostLink.StepTimeout, ct);
            target = $"0x{destination:X}";
        }
        else
        {
            var channel = HostLink.BindService(host, s.Service, ct);
            endpoint = channel.Endpoint;
            endpoint.Send(payload, HostLink.StepTimeout, ct);
            target = $"'{PrintableText.Of(channel.Name)}' at 0x{channel.RemoteAddress:X}";
        }
        using (own)
        {
            Console.WriteLine($"sent {payload.Length} bytes to {target} from 0x{endpoint.Address:X}");
            if (s.ReplyTimeout > TimeSpan.Zero)
                PrintReplies(endpoint, s.ReplyTimeout, s.Format, ct);
        }
        return ExitCodes.Success;
    }

    /// <summary>Prints the replies: waits up to <paramref name="firstTimeout"/> for the first, then <see cref="s_moreReplies"/> for each further one.</summary>
    private static void PrintReplies(RpmsgEndpoint endpoint, TimeSpan firstTimeout, string format, CancellationToken ct)
    {
        var buffer = new byte[endpoint.MaxPayload];
        int replies = 0;
        while (true)
        {
            var timeout = replies == 0 || firstTimeout < s_moreReplies ? firstTimeout : s_moreReplies;
            RpmsgReceiveResult received = default;
            bool arrived;
            try
            {
                arrived = HostLink.CallerPolls(endpoint.Device)
                    ? HostLink.PollUntil(endpoint.Device, () => endpoint.TryReceive(buffer, TimeSpan.Zero, out received), timeout, ct)
                    : endpoint.TryReceive(buffer, timeout, out received, ct);
            }
            catch (Exception e) when (EchoLoop.GoneAway(endpoint, e))
            {
                // The remote destroyed the service while we waited (OpenAMP's echo does on its shutdown message):
                // no (further) reply is coming, which is an outcome, not a failure.
                Console.WriteLine($"the service went away after {replies} {(replies == 1 ? "reply" : "replies")} (name-service destroy or link down)");
                return;
            }
            if (!arrived)
                break;
            replies++;
            Console.WriteLine($"reply from 0x{received.Source:X}, {received.Length} bytes: {Payloads.Format(buffer.AsSpan(0, received.Length), format)}");
        }
        if (replies == 0)
            Console.WriteLine($"no reply within {firstTimeout.TotalSeconds:0.###} s");
    }
}
