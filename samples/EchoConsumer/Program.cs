using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

// The echo demo through the PACKED packages, in two processes: this process is the host (virtio driver
// side); it starts a second instance of itself with "remote" as the simulated remote processor (virtio
// device side, echo service). They share a file in /dev/shm (unlinked once both mapped it) and ring
// eventfd doorbells passed over a Unix socket. The host binds "rpmsg-echo" through the name service,
// sends N messages, checks every echo and exits 0.
// Usage: EchoConsumer [--expect-version VERSION] [--count N]
//        EchoConsumer remote --shm PATH --passing NAME ...   (started by the host, not by hand)
if (SimulatedRemoteChild.TryRun(args, out int remoteExitCode))
    return remoteExitCode;

string? expectedVersion = null;
int count = 100;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--expect-version" when i + 1 < args.Length:
            expectedVersion = args[++i];
            break;
        case "--count" when i + 1 < args.Length && int.TryParse(args[i + 1], out int n) && n > 0:
            count = n;
            i++;
            break;
        default:
            Console.Error.WriteLine($"EchoConsumer: unknown or incomplete argument '{args[i]}' (--expect-version VERSION, --count N)");
            return 2;
    }
}

var assembly = typeof(RpmsgDevice).Assembly;
string version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
// The SDK appends "+<commit>" to the informational version; the package version is the part before it.
string packageVersion = version.Split('+')[0];
Console.WriteLine($"EchoConsumer: VirtioRpmsg {packageVersion} on {RuntimeInformation.RuntimeIdentifier}");
if (expectedVersion is not null && packageVersion != expectedVersion)
{
    // No assembly path in the message: Assembly.Location is empty in a single-file or NativeAOT app (IL3000).
    Console.Error.WriteLine($"EchoConsumer: expected VirtioRpmsg {expectedVersion}, loaded {packageVersion} ({version})");
    return 1;
}

var step = TimeSpan.FromSeconds(10);
// No RemoteCommand: the default runs this program again (dotnet EchoConsumer.dll remote ...), handled above.
using var simulated = SimulatedRemoteProcess.StartWithHost(new SimulatedRemoteProcessOptions
{
    SharedMemoryPrefix = "vrpmsg-echo-consumer-",
    StartTimeout = TimeSpan.FromSeconds(30),
    HostOptions = new RpmsgDeviceOptions { Name = "host", SendTimeout = step },
});
Console.WriteLine($"EchoConsumer: remote started as pid {simulated.ProcessId}, shared memory {simulated.SharedMemoryPath}");

var host = simulated.Host;
var channelReady = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
host.RegisterDriver(new RpmsgServiceDriver(SimulatedRemote.EchoServiceName) { Probe = ch => channelReady.TrySetResult(ch) });
host.Start();
if (!host.WaitForLinkUp(step))
    return Fail($"the link did not come up within {step.TotalSeconds} s");
if (!channelReady.Task.Wait(step))
    return Fail($"the remote did not announce '{SimulatedRemote.EchoServiceName}' within {step.TotalSeconds} s");
var channel = channelReady.Task.Result;
Console.WriteLine($"EchoConsumer: bound {channel}");

var endpoint = channel.Endpoint;
byte[] payload = new byte[64];
byte[] echo = new byte[endpoint.MaxPayload];
var clock = Stopwatch.StartNew();
for (int i = 0; i < count; i++)
{
    // Different content per message, so a stale or shifted echo is caught.
    for (int j = 0; j < payload.Length; j++)
        payload[j] = (byte)(i * 31 + j);
    endpoint.Send(payload, step);
    if (!endpoint.TryReceive(echo, step, out RpmsgReceiveResult received))
        return Fail($"message {i}: no echo within {step.TotalSeconds} s");
    if (received.Source != channel.RemoteAddress)
        return Fail($"message {i}: echo from 0x{received.Source:X}, expected 0x{channel.RemoteAddress:X}");
    if (!echo.AsSpan(0, received.Length).SequenceEqual(payload))
        return Fail($"message {i}: echo differs ({received.Length} bytes back for {payload.Length} sent)");
}
var counters = host.Counters;
Console.WriteLine($"EchoConsumer: verified {count}/{count} echoes of {payload.Length} bytes in {clock.Elapsed.TotalMilliseconds:0} ms (host tx {counters.TxMessages}, rx {counters.RxMessages}, errors {counters.Errors})");

string shm = simulated.SharedMemoryPath;
simulated.Dispose();
if (File.Exists(shm))
    return Fail($"{shm} was left behind");
Console.WriteLine($"EchoConsumer: remote exited with code {simulated.ExitCode?.ToString() ?? "?"}; shared memory removed");
return simulated.ExitCode == 0 ? 0 : Fail("the remote did not exit cleanly");

static int Fail(string reason)
{
    Console.Error.WriteLine("EchoConsumer: " + reason);
    return 1;
}
