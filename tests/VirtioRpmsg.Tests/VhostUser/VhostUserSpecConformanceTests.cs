using System.Buffers.Binary;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// What the vhost-user specification (QEMU docs/interop/vhost-user.rst) allows a front-end to do and the back-end
/// once refused or ignored: a modern front-end's VIRTIO_F_VERSION_1, a region at any mmap_offset of its file, and
/// kick descriptors sent before SET_FEATURES when protocol features are not negotiated (rings start enabled).
/// </summary>
public sealed class VhostUserSpecConformanceTests
{
    private static readonly TimeSpan Wait = VhostUserEchoServerRig.Wait;

    private static void Echo(RpmsgDevice host, uint echo, int count)
    {
        using var ept = host.CreateEndpoint();
        var buffer = new byte[host.MaxPayload];
        for (int i = 0; i < count; i++)
        {
            byte[] payload = [(byte)i, 0x3C, (byte)(i >> 8)];
            ept.SendTo(echo, payload, Wait);
            var reply = ept.Receive(buffer, Wait);
            Assert.Equal(payload, buffer.AsSpan(0, reply.Length).ToArray());
        }
    }

    [Fact]
    public void GetFeatures_OffersVersion1()
    {
        using var rig = new VhostUserEchoServerRig("v1");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        guest.Send(VhostUserRequest.GetFeatures);
        ulong features = guest.ReadU64Reply(VhostUserRequest.GetFeatures);
        Assert.True((features & (1UL << 32)) != 0, $"GET_FEATURES 0x{features:X} lacks VIRTIO_F_VERSION_1 (bit 32)");
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    [Fact]
    public void ModernFrontEndAcceptsVersion1_DeviceRunsAndEchoes()
    {
        using var rig = new VhostUserEchoServerRig("v1");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml(extraFeatures: 1UL << 32);
        var host = guest.StartHost(offered);
        Echo(host, guest.WaitForAnnouncement("rpmsg-echo"), 20);
        Assert.Single(rig.Created);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    [Fact]
    public void LegacyFrontEndLeavesVersion1Out_DeviceRunsAndEchoes()
    {
        using var rig = new VhostUserEchoServerRig("v1");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        ulong offered = guest.SetUpLikeVirtioUml(droppedFeatures: 1UL << 32);
        var host = guest.StartHost(offered);
        Echo(host, guest.WaitForAnnouncement("rpmsg-echo"), 5);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// The spec's mmap_offset has no alignment (QEMU's need not be page-aligned, and on hugetlbfs mmap wants whole huge
    /// pages): the back-end maps the file from its start and the region begins mmap_offset bytes in.
    /// </summary>
    [Theory]
    [InlineData(0x1810UL)]   // not page-aligned
    [InlineData(0x201000UL)] // page-aligned, not 2 MiB-aligned (a hugetlbfs mmap offset must be)
    public void RegionAtAnMmapOffsetThatIsNotAligned_MapsTheRightBytes_Echoes(ulong mmapOffset)
    {
        using var rig = new VhostUserEchoServerRig("offset");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        guest.CreateGuest(mmapOffset);
        ulong offered = guest.SetUpLikeVirtioUml();
        var host = guest.StartHost(offered);
        Echo(host, guest.WaitForAnnouncement("rpmsg-echo"), 20);
        // The guest's rings sit at mmap_offset + (address - GuestBase) in the file: read there from the file's start.
        var layout = new VirtioRpmsg.Virtio.VringLayout(Num, 4096);
        ulong at = mmapOffset + (Vring1 - GuestBase) + (ulong)layout.AvailOffset + 2;
        using (var lease = guest.WholeFile!.Acquire())
            Assert.Equal(guest.ReadRingIndex(Vring1, used: false), BinaryPrimitives.ReadUInt16LittleEndian(lease.GetSpan(guest.WholeFile.Translate(at, 2), 2)));
        Assert.True(guest.ReadRingIndex(Vring1, used: true) >= 20, "the back-end returned fewer buffers than messages echoed");
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    /// <summary>
    /// hugetlbfs (no huge pages on a test machine) reports its huge page size as st_blksize, and a mapping of such a file
    /// is made and unmapped in whole huge pages: the mapped length is rounded to it; an ordinary file's block size changes nothing.
    /// </summary>
    [Fact]
    public void GuestMemoryMapping_LengthRoundedToTheFilesBlockSize_RegionStartsAtTheOffset()
    {
        using var file = SharedMemoryRegion.CreateMemFd("blocks", 0x3000);
        Assert.Equal(MappedBlock.PageSize, file.Descriptor!.GetBlockSize("blocks"));
        using (var huge = MappedBlock.Map(file.Descriptor.Value, "blocks", 0, 0x1000, false, skip: 0x1810, lengthUnit: 0x200000))
        {
            Assert.Equal(0x200000UL, huge.MapLength);
            Assert.Equal(0x1810UL, huge.InPageOffset);
        }
        using var plain = MappedBlock.Map(file.Descriptor.Value, "blocks", 0, 0x1000, false, skip: 0x1810, lengthUnit: (ulong)MappedBlock.PageSize);
        Assert.Equal(0x3000UL, plain.MapLength);
    }

    /// <summary>
    /// No protocol features: the ring is enabled by its kick descriptor (spec, "Ring states"), even when the kick came
    /// before SET_FEATURES told the back-end that no SET_VRING_ENABLE will follow.
    /// </summary>
    [Fact]
    public void KickBeforeSetFeatures_WithoutProtocolFeatures_RingsStartEnabled_DeviceRuns()
    {
        using var rig = new VhostUserEchoServerRig("legacy");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        guest.CreateGuest();
        guest.Send(VhostUserRequest.SetOwner);
        guest.Send(VhostUserRequest.GetFeatures);
        ulong offered = guest.ReadU64Reply(VhostUserRequest.GetFeatures);
        guest.Send(VhostUserRequest.SetMemTable, Table((GuestBase, (ulong)MemorySize, GuestBase, 0)), VhostUserHeader.Version, guest.Memory!.Descriptor!.Value);
        foreach (var (q, at) in new[] { (0u, Vring0), (1u, Vring1) })
        {
            guest.Send(VhostUserRequest.SetVringCall, U64(q), VhostUserHeader.Version, guest.Doorbell!.PeerOutbound.Value);
            guest.Send(VhostUserRequest.SetVringNum, State(q, Num));
            guest.Send(VhostUserRequest.SetVringBase, State(q, 0));
            guest.Send(VhostUserRequest.SetVringAddr, RingAt(q, at));
            guest.Send(VhostUserRequest.SetVringKick, U64(q), VhostUserHeader.Version, guest.Doorbell.PeerInbound.Value);
        }
        ulong legacy = offered & ~VhostUserFeatures.ProtocolFeatures;
        guest.Send(VhostUserRequest.SetFeatures, U64(legacy));
        // A request with a reply: everything before it was handled once it arrives.
        guest.Send(VhostUserRequest.GetFeatures);
        guest.ReadU64Reply(VhostUserRequest.GetFeatures);
        Assert.Single(rig.Created);
        var host = guest.StartHost(legacy);
        Echo(host, guest.WaitForAnnouncement("rpmsg-echo"), 5);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }

    [Fact]
    public void KickAfterSetFeatures_WithProtocolFeatures_RingWaitsForEnable()
    {
        using var rig = new VhostUserEchoServerRig("legacy");
        using var guest = new VhostUserTestFrontEnd(rig.Server);
        guest.CreateGuest();
        guest.Send(VhostUserRequest.GetFeatures);
        ulong offered = guest.ReadU64Reply(VhostUserRequest.GetFeatures);
        guest.Send(VhostUserRequest.SetFeatures, U64(offered));
        guest.Send(VhostUserRequest.SetMemTable, Table((GuestBase, (ulong)MemorySize, GuestBase, 0)), VhostUserHeader.Version, guest.Memory!.Descriptor!.Value);
        foreach (var (q, at) in new[] { (0u, Vring0), (1u, Vring1) })
        {
            guest.Send(VhostUserRequest.SetVringCall, U64(q), VhostUserHeader.Version, guest.Doorbell!.PeerOutbound.Value);
            guest.Send(VhostUserRequest.SetVringNum, State(q, Num));
            guest.Send(VhostUserRequest.SetVringAddr, RingAt(q, at));
            guest.Send(VhostUserRequest.SetVringKick, U64(q), VhostUserHeader.Version, guest.Doorbell.PeerInbound.Value);
        }
        guest.Send(VhostUserRequest.GetFeatures);
        guest.ReadU64Reply(VhostUserRequest.GetFeatures);
        Assert.Empty(rig.Created);
        foreach (uint q in new[] { 0u, 1u })
            guest.Send(VhostUserRequest.SetVringEnable, State(q, 1));
        guest.Send(VhostUserRequest.GetFeatures);
        guest.ReadU64Reply(VhostUserRequest.GetFeatures);
        Assert.Single(rig.Created);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
    }
}
