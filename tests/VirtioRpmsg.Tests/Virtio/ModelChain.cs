using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Virtio;

/// <summary>A chain as the model sees it: the caller's token and its segments.</summary>
internal sealed record ModelChain(int Token, BufferSegment[] Segments)
{
    /// <summary>The largest used length the device may report: writable bytes, or the full length of a send buffer.</summary>
    public ulong UsedLimit
    {
        get
        {
            ulong total = 0, writable = 0;
            foreach (var s in Segments)
            {
                total += s.Length;
                if (s.DeviceWritable)
                    writable += s.Length;
            }
            return writable != 0 ? writable : total;
        }
    }
}
