using System.IO.Pipelines;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>Stream and IDuplexPipe adapters, with payloads larger than the MTU.</summary>
public class RpmsgAdapterTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static byte[] Pattern(int n)
    {
        var data = new byte[n];
        for (int i = 0; i < n; i++)
            data[i] = (byte)(i * 31 + 7);
        return data;
    }

    [Fact]
    public void Stream_WriteLargerThanMtu_SplitsIntoMessagesAndReadsBackInOrder()
    {
        using var loop = RpmsgLoopback.Create();
        var hostEpt = loop.Host.CreateEndpoint(0x500, 0x400u);
        var sizes = new System.Collections.Concurrent.ConcurrentQueue<int>();
        var remoteEpt = loop.Remote.CreateEndpoint(0x400, (ept, src, payload) =>
        {
            sizes.Enqueue(payload.Length);
            ept.SendTo(src, payload);
        });
        using var stream = new RpmsgStream(hostEpt);
        var data = Pattern(5000);
        stream.Write(data);
        var back = new byte[data.Length];
        int got = 0;
        var read = Task.Run(() =>
        {
            while (got < back.Length)
                got += stream.Read(back, got, Math.Min(100, back.Length - got));
        });
        Assert.True(read.Wait(Bound));
        Assert.Equal(data, back);
        Assert.Equal([496, 496, 496, 496, 496, 496, 496, 496, 496, 496, 40], sizes.ToArray());
    }

    [Fact]
    public async Task DuplexPipe_FlushLargerThanMtu_ArrivesIntactAsMtuSizedMessages()
    {
        using var loop = RpmsgLoopback.Create();
        var hostEpt = loop.Host.CreateEndpoint(0x500, 0x400u);
        var sizes = new System.Collections.Concurrent.ConcurrentQueue<int>();
        loop.Remote.CreateEndpoint(0x400, (ept, src, payload) =>
        {
            sizes.Enqueue(payload.Length);
            ept.SendTo(src, payload);
        });
        await using var pipe = new RpmsgDuplexPipe(hostEpt);
        var data = Pattern(3000);
        await pipe.Output.WriteAsync(data);
        var back = new MemoryStream();
        while (back.Length < data.Length)
        {
            var r = await pipe.Input.ReadAsync().AsTask().WaitAsync(Bound);
            foreach (var seg in r.Buffer)
                back.Write(seg.Span);
            pipe.Input.AdvanceTo(r.Buffer.End);
        }
        Assert.Equal(data, back.ToArray());
        Assert.All(sizes, s => Assert.True(s <= 496));
        Assert.Equal(3000, sizes.Sum());
        Assert.Equal(7, sizes.Count); // ceil(3000 / 496)
    }
}
