using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using VirtioRpmsg.Memory;

// Today: maps a shared-memory region through the package and its native shim, and round-trips a
// message through it. Once the rpmsg layer lands this becomes the echo demo.
// Usage: EchoConsumer [--expect-version VERSION]   (fails if the loaded package is another version)
string? expectedVersion = args.Length == 2 && args[0] == "--expect-version" ? args[1] : null;

var assembly = typeof(SharedMemoryRegion).Assembly;
string version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?";
// The SDK appends "+<commit>" to the informational version; the package version is the part before it.
string packageVersion = version.Split('+')[0];
Console.WriteLine($"EchoConsumer: VirtioRpmsg {packageVersion} on {RuntimeInformation.RuntimeIdentifier}");
if (expectedVersion is not null && packageVersion != expectedVersion)
{
    Console.Error.WriteLine($"EchoConsumer: expected VirtioRpmsg {expectedVersion}, loaded {packageVersion} from '{assembly.Location}'");
    return 1;
}

const ulong DeviceAddress = 0x3000_0000;
byte[] message = Encoding.UTF8.GetBytes("hello from EchoConsumer");
using var region = SharedMemoryRegion.CreateMemFd("echo-consumer", 4096, DeviceAddress);
long offset = region.Translate(DeviceAddress + 0x100, (ulong)message.Length);
using (var lease = region.Acquire())
{
    message.CopyTo(lease.GetSpan(offset, message.Length));
    // Publish the length after the bytes, as a sender would.
    lease.WriteUInt32Release(0, (uint)message.Length);
}
string echoed;
using (var lease = region.Acquire())
{
    int length = (int)lease.ReadUInt32Acquire(0);
    if (length != message.Length)
    {
        Console.Error.WriteLine($"EchoConsumer: length word is {length}, expected {message.Length}");
        return 1;
    }
    echoed = Encoding.UTF8.GetString(lease.GetReadOnlySpan(offset, length));
}
Console.WriteLine($"EchoConsumer: mapped {region.Name} ({region.Size} bytes at 0x{region.DeviceAddress:X}); read back \"{echoed}\" at 0x{DeviceAddress + 0x100:X}");
return echoed == "hello from EchoConsumer" ? 0 : 1;
