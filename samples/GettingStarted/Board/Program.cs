using System.Text;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;

var description = PlatformDescription.Load("board.json");
using var platform = PlatformResources.Open(description);                   // maps the memory, reads the resource table
using var doorbell = platform.CreateDoorbell(new PlatformDoorbellOptions());
using var host = RpmsgDevice.CreateHost(platform.CreateRpmsgLayout(), platform.CreateVdevControl(), doorbell,
    new RpmsgDeviceOptions { WaitStrategy = RpmsgWaitStrategy.Hybrid });
var bound = new TaskCompletionSource<RpmsgChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
host.RegisterDriver(new RpmsgServiceDriver("rpmsg-echo") { Probe = channel => bound.TrySetResult(channel) });
host.Start();
var channel = await bound.Task.WaitAsync(TimeSpan.FromSeconds(10));
await channel.SendAsync("hello, remote"u8.ToArray());
var reply = new byte[channel.Endpoint.MaxPayload];
var received = await channel.Endpoint.ReceiveAsync(reply).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
Console.WriteLine($"0x{received.Source:X} says: {Encoding.UTF8.GetString(reply, 0, received.Length)}");
