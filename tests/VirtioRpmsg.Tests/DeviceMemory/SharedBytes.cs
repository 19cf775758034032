using VirtioRpmsg.Memory;

namespace VirtioRpmsg.Tests.DeviceMemory;

/// <summary>Copies bytes out of a lease with the lease's own routine (legal on Device memory and in checking mode).</summary>
internal static class SharedBytes
{
    public static byte[] Read(in MappingLease lease, long offset, int length)
    {
        var bytes = new byte[length];
        lease.ReadBytes(offset, bytes);
        return bytes;
    }
}
