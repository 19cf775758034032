using System.Globalization;

namespace VirtioRpmsg.Simulation;

/// <summary>
/// The line protocol a <see cref="SimulatedRemote"/> run by <c>rpmsg remote</c> reads on stdin, so a host
/// (a test) can drive it. One command per line, one reply line per command: <c>OK [detail]</c> or
/// <c>ERR reason</c>. Addresses are decimal or 0x-prefixed hex; payloads are hex, "-" for empty.
/// <list type="bullet">
/// <item><c>announce NAME [ADDR]</c>: create an echo endpoint announced as NAME; replies <c>OK 0xADDR</c>.</item>
/// <item><c>destroy NAME</c>: destroy it (the host sees a name-service destroy).</item>
/// <item><c>send DST HEX [SRC]</c>: send from the command endpoint to DST (off-channel from SRC if given).</item>
/// <item><c>stall</c> / <c>resume</c>: stop / restart consuming host messages.</item>
/// <item><c>stats</c>: <c>OK echoed=N sink=N sink-bytes=N blocked=N rx=N tx=N dropped=N errors=N</c>.</item>
/// <item><c>detach</c>: the host let go; drop the transport (no destroys), keep running. Needs a <see cref="SimulatedRemoteLink"/>.</item>
/// <item><c>attach</c>: receive a fresh doorbell pair over the descriptor-passing connection (the host sends it
/// right after this line), start a new transport at the same endpoint addresses. Needs a link.</item>
/// <item><c>crash</c>: fault injection: set NEEDS_RESET in the vdev status, then die at once (SIGKILL, no reply). Needs a link.</item>
/// <item><c>quit</c>: <c>OK</c>, then the remote exits.</item>
/// </list>
/// </summary>
public sealed class SimulatedRemoteCommands
{
    private static readonly TimeSpan AttachTimeout = TimeSpan.FromSeconds(30);
    private readonly SimulatedRemote? _fixed;
    private readonly SimulatedRemoteLink? _link;
    private readonly Func<SimulatedRemote?>? _current;

    /// <summary>Executes the line protocol against <paramref name="remote"/>.</summary>
    public SimulatedRemoteCommands(SimulatedRemote remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        _fixed = remote;
    }

    /// <summary>Commands over a re-attachable remote (adds detach, attach and crash).</summary>
    public SimulatedRemoteCommands(SimulatedRemoteLink link)
    {
        ArgumentNullException.ThrowIfNull(link);
        _link = link;
    }

    /// <summary>Commands over whichever remote is current (one per guest of a vhost-user server); none current is an error reply.</summary>
    public SimulatedRemoteCommands(Func<SimulatedRemote?> current)
    {
        ArgumentNullException.ThrowIfNull(current);
        _current = current;
    }

    private SimulatedRemote Remote => _fixed
        ?? (_current is not null ? _current() ?? throw new InvalidOperationException("no guest is connected") : _link!.Current);

    private SimulatedRemoteLink Link => _link ?? throw new InvalidOperationException("this remote cannot detach, attach or crash on command (no link)");

    /// <summary>Runs one command line and returns the reply line; <paramref name="quit"/> is true after "quit".</summary>
    public string Execute(string line, out bool quit)
    {
        ArgumentNullException.ThrowIfNull(line);
        quit = false;
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length == 0)
            return "ERR empty command";
        try
        {
            switch (words[0])
            {
                case "announce" when words.Length is 2 or 3:
                    var ept = Remote.Announce(words[1], words.Length == 3 ? ParseAddress(words[2], "ADDR") : Rpmsg.RpmsgAddress.Any);
                    return $"OK 0x{ept.Address:X}";
                case "destroy" when words.Length == 2:
                    return Remote.Destroy(words[1]) ? "OK" : $"ERR no endpoint named '{words[1]}'";
                case "send" when words.Length is 3 or 4:
                    uint destination = ParseAddress(words[1], "DST");
                    byte[] payload = words[2] == "-" ? [] : Convert.FromHexString(words[2]);
                    uint? source = words.Length == 4 ? ParseAddress(words[3], "SRC") : null;
                    Remote.SendFromCommandEndpoint(destination, payload, source);
                    return "OK";
                case "stall" when words.Length == 1:
                    Remote.Stall();
                    return "OK";
                case "resume" when words.Length == 1:
                    Remote.Resume();
                    return "OK";
                case "stats" when words.Length == 1:
                    var c = Remote.Device.Counters;
                    return string.Create(CultureInfo.InvariantCulture,
                        $"OK echoed={Remote.Echoed} sink={Remote.SinkMessages} sink-bytes={Remote.SinkBytes} blocked={Remote.BlockedHandlers} rx={c.RxMessages} tx={c.TxMessages} dropped={c.Dropped} errors={c.Errors}");
                case "detach" when words.Length == 1:
                    Link.Detach();
                    return "OK";
                case "attach" when words.Length == 1:
                    var attached = Link.Attach(AttachTimeout);
                    return $"OK 0x{attached.CommandEndpoint.Address:X}";
                case "crash" when words.Length == 1:
                    Link.Crash();
                    return "ERR still alive after crash";
                case "quit" when words.Length == 1:
                    quit = true;
                    return "OK";
                default:
                    return $"ERR unknown command or wrong arguments: '{line.Trim()}' (announce NAME [ADDR] | destroy NAME | send DST HEX [SRC] | stall | resume | stats | detach | attach | crash | quit)";
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or TimeoutException or OperationCanceledException or InvalidDataException or EndOfStreamException or Interop.NativeCallException)
        {
            return $"ERR {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}";
        }
    }

    private static uint ParseAddress(string text, string field)
    {
        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        if (uint.TryParse(hex ? text.AsSpan(2) : text, hex ? NumberStyles.AllowHexSpecifier : NumberStyles.None, CultureInfo.InvariantCulture, out uint value))
            return value;
        throw new FormatException($"{field} '{text}' is not an address (decimal or 0x-prefixed hex)");
    }
}
