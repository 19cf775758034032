using VirtioRpmsg.VhostUser;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>Random bytes into every payload decoder: a value or a <see cref="VhostUserProtocolException"/>, never anything else.</summary>
public sealed class VhostUserPayloadRandomInputTests
{
    [Fact]
    public void RandomBytes_DecodeOrFaultWithAFieldName_NeverAnyOtherException()
    {
        var rnd = new Random(13);
        int faults = 0, decoded = 0;
        for (int i = 0; i < 20000; i++)
        {
            var bytes = new byte[rnd.Next(0, 300)];
            rnd.NextBytes(bytes);
            if (bytes.Length >= 8 && rnd.Next(2) == 0)
                bytes[0] = (byte)rnd.Next(0, 10); // plausible region counts too
            foreach (var decode in Decoders)
            {
                try
                {
                    decode(bytes);
                    decoded++;
                }
                catch (VhostUserProtocolException e)
                {
                    Assert.Equal(FaultLayer.VhostUser, e.Fault.Layer);
                    Assert.False(string.IsNullOrEmpty(e.Fault.Field));
                    faults++;
                }
            }
        }
        Assert.True(faults > 0 && decoded > 0, $"faults {faults}, decoded {decoded}: both outcomes must occur");
    }

    private static readonly Action<byte[]>[] Decoders =
    [
        b => VhostUserHeader.Parse(b),
        b => VhostUserPayload.ReadMemoryTable(b),
        b => VhostUserPayload.ReadVringAddress(b),
        b => VhostUserPayload.ReadVringState(VhostUserRequest.SetVringNum, b),
        b => VhostUserPayload.ReadVringDescriptor(VhostUserRequest.SetVringKick, b),
        b => VhostUserPayload.ReadU64(VhostUserRequest.SetFeatures, b),
    ];

    [Fact]
    public void MemoryTable_LongerThanTheCountNeeds_IsAccepted_ShorterIsNot()
    {
        // virtio_uml sends room for two regions with a count of one.
        var table = VhostUserTestFrontEnd.Table((0x1000, 0x1000, 0x1000, 0));
        Assert.Single(VhostUserPayload.ReadMemoryTable(table));
        table[0] = 3;
        var e = Assert.Throws<VhostUserProtocolException>(() => VhostUserPayload.ReadMemoryTable(table));
        Assert.Equal(FaultRule.VhostUserPayloadSize, e.Rule);
        var partial = Assert.Throws<VhostUserProtocolException>(() => VhostUserPayload.ReadMemoryTable(new byte[8 + 31]));
        Assert.Equal(39UL, partial.Fault.Value);
    }
}
