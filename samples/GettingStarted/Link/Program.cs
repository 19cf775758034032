using System.Text;
using VirtioRpmsg.Lifecycle;

using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
await using var link = await RpmsgLink.OpenAsync("board.json", timeout.Token);      // map, doorbell, link up
var channel = await link.WaitForChannelAsync("rpmsg-echo", timeout.Token);          // the service the remote announced
await channel.SendAsync("hello, remote"u8.ToArray(), timeout.Token);
var reply = new byte[channel.Endpoint.MaxPayload];
var received = await channel.Endpoint.ReceiveAsync(reply, timeout.Token);
Console.WriteLine($"0x{received.Source:X} says: {Encoding.UTF8.GetString(reply, 0, received.Length)}");
