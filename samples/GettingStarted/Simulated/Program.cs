using System.Text;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;                                           // dotnet add package VirtioRpmsg.Simulation

var shm = $"/dev/shm/vrpmsg-hello-{Environment.ProcessId}.shm";         // one per process: runs side by side never share it
var description = SimulatedPlatform.Description(shm) with { Doorbell = new DoorbellDescription { Kind = PlatformDoorbellKind.Polling } };
using var platform = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
using var remote = new InProcessSimulatedControl(description);          // stands in for the firmware
using var processor = new RemoteProcessor(platform, remote);
processor.RegisterDriver(new RpmsgServiceDriver("rpmsg-echo"));        // bind the service by name
processor.Start();                                                      // link up; the name service announces
var channel = processor.WaitForChannel("rpmsg-echo", TimeSpan.FromSeconds(10));
channel.Send("hello, remote"u8);
var reply = new byte[channel.Endpoint.MaxPayload];
var received = channel.Endpoint.Receive(reply, TimeSpan.FromSeconds(10));
Console.WriteLine($"0x{received.Source:X} says: {Encoding.UTF8.GetString(reply, 0, received.Length)}");
File.Delete(shm);
