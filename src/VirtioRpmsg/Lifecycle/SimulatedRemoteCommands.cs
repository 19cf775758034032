using System.Globalization;

namespace VirtioRpmsg.Lifecycle;

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
/// <item><c>quit</c>: <c>OK</c>, then the remote exits.</item>
/// </list>
/// </summary>
public sealed class SimulatedRemoteCommands
{
    private readonly SimulatedRemote _remote;

    /// <summary>Executes the line protocol against <paramref name="remote"/>.</summary>
    public SimulatedRemoteCommands(SimulatedRemote remote)
    {
        ArgumentNullException.ThrowIfNull(remote);
        _remote = remote;
    }

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
                    var ept = _remote.Announce(words[1], words.Length == 3 ? ParseAddress(words[2], "ADDR") : Rpmsg.RpmsgAddress.Any);
                    return $"OK 0x{ept.Address:X}";
                case "destroy" when words.Length == 2:
                    return _remote.Destroy(words[1]) ? "OK" : $"ERR no endpoint named '{words[1]}'";
                case "send" when words.Length is 3 or 4:
                    uint destination = ParseAddress(words[1], "DST");
                    byte[] payload = words[2] == "-" ? [] : Convert.FromHexString(words[2]);
                    uint? source = words.Length == 4 ? ParseAddress(words[3], "SRC") : null;
                    _remote.SendFromCommandEndpoint(destination, payload, source);
                    return "OK";
                case "stall" when words.Length == 1:
                    _remote.Stall();
                    return "OK";
                case "resume" when words.Length == 1:
                    _remote.Resume();
                    return "OK";
                case "stats" when words.Length == 1:
                    var c = _remote.Device.Counters;
                    return string.Create(CultureInfo.InvariantCulture,
                        $"OK echoed={_remote.Echoed} sink={_remote.SinkMessages} sink-bytes={_remote.SinkBytes} blocked={_remote.BlockedHandlers} rx={c.RxMessages} tx={c.TxMessages} dropped={c.Dropped} errors={c.Errors}");
                case "quit" when words.Length == 1:
                    quit = true;
                    return "OK";
                default:
                    return $"ERR unknown command or wrong arguments: '{line.Trim()}' (announce NAME [ADDR] | destroy NAME | send DST HEX [SRC] | stall | resume | stats | quit)";
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or TimeoutException or OperationCanceledException)
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
