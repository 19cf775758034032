using System.Buffers.Binary;
using VirtioRpmsg.Interop;
using VirtioRpmsg.Memory;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.VhostUser;
using static VirtioRpmsg.Tests.VhostUser.VhostUserTestFrontEnd;

namespace VirtioRpmsg.Tests.VhostUser;

/// <summary>
/// A hostile front-end: every bad message ends the connection with one specific fault (rule, field, value),
/// the back-end closes its end, maps nothing and leaks nothing, and the process lives on.
/// </summary>
public sealed class VhostUserHostileFrontEndTests
{
    private const uint V = VhostUserHeader.Version;
    private const uint Ack = VhostUserHeader.Version | VhostUserHeader.NeedReplyFlag;

    private static VhostUserRpmsgServer NewServer() => new("@vrpmsg-vhost-hostile-" + Guid.NewGuid().ToString("N"));

    /// <summary>Runs <paramref name="attack"/> against a fresh back-end; returns its fault after checking the connection was closed.</summary>
    private static Fault Attack(Action<VhostUserTestFrontEnd> attack)
    {
        using var server = NewServer();
        using var guest = new VhostUserTestFrontEnd(server);
        attack(guest);
        var fault = guest.Outcome();
        Assert.NotNull(fault);
        Assert.Equal(FaultLayer.VhostUser, fault!.Layer);
        Assert.True(guest.ClosedByBackEnd(), "the back-end did not close the connection after the fault");
        return fault;
    }

    private static void MemTable(VhostUserTestFrontEnd g)
    {
        g.CreateGuest();
        g.Send(VhostUserRequest.SetMemTable, Table((GuestBase, (ulong)MemorySize, GuestBase, 0)), V, g.Memory!.Descriptor!.Value);
    }

    [Fact]
    public void Header_WrongVersion_FaultsOnFlags()
    {
        var f = Attack(g => g.SendRaw((uint)VhostUserRequest.SetOwner, 2, 0, default));
        Assert.Equal(FaultRule.VhostUserHeader, f.Rule);
        Assert.Equal("flags.version", f.Field);
        Assert.Equal(2UL, f.Value);
    }

    [Fact]
    public void Header_ReplyBitFromFrontEnd_Faults()
    {
        var f = Attack(g => g.SendRaw((uint)VhostUserRequest.SetOwner, V | VhostUserHeader.ReplyFlag, 0, default));
        Assert.Equal(FaultRule.VhostUserHeader, f.Rule);
        Assert.Equal("flags", f.Field);
    }

    [Theory]
    [InlineData(0x1000u)]
    [InlineData(uint.MaxValue)]
    public void Header_HugeSize_FaultsBeforeReadingThePayload(uint size)
    {
        var f = Attack(g => g.SendRaw((uint)VhostUserRequest.SetFeatures, V, size, new byte[8]));
        Assert.Equal(FaultRule.VhostUserPayloadSize, f.Rule);
        Assert.Equal(size, f.Value);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(24u)] // GET_CONFIG
    [InlineData(22u)] // IOTLB_MSG
    [InlineData(99u)]
    public void UnsupportedRequest_FaultsNamingIt(uint request)
    {
        var f = Attack(g => g.SendRaw(request, V, 0, default));
        Assert.Equal(FaultRule.VhostUserUnsupportedRequest, f.Rule);
        Assert.Equal(request, f.Value);
        Assert.Contains(request.ToString(System.Globalization.CultureInfo.InvariantCulture), f.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongPayloadSize_Faults()
    {
        var f = Attack(g => g.Send(VhostUserRequest.SetFeatures, new byte[4]));
        Assert.Equal(FaultRule.VhostUserPayloadSize, f.Rule);
        Assert.Equal(4UL, f.Value);
    }

    [Fact]
    public void SetFeatures_NotOffered_Faults_AndNacksWhenAskedTo()
    {
        using var server = NewServer();
        using var guest = new VhostUserTestFrontEnd(server);
        guest.Send(VhostUserRequest.SetProtocolFeatures, U64(VhostUserFeatures.ReplyAck));
        guest.Send(VhostUserRequest.SetFeatures, U64(1UL << 33), Ack); // ACCESS_PLATFORM
        Assert.Equal(1UL, guest.ReadU64Reply(VhostUserRequest.SetFeatures));
        var f = guest.Outcome();
        Assert.Equal(FaultRule.FeaturesNotOffered, f!.Rule);
        Assert.Equal(1UL << 33, f.Value);
        Assert.True(guest.ClosedByBackEnd());
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(65536u)]
    public void VringNum_NotAPowerOfTwoInRange_Faults(uint num)
    {
        var f = Attack(g => g.Send(VhostUserRequest.SetVringNum, State(0, num)));
        Assert.Equal(FaultRule.VhostUserVringSize, f.Rule);
        Assert.Equal("vring[0].num", f.Field);
        Assert.Equal(num, f.Value);
    }

    [Fact]
    public void VringIndex_BeyondTheTwoQueues_Faults()
    {
        var f = Attack(g => g.Send(VhostUserRequest.SetVringNum, State(2, 256)));
        Assert.Equal(FaultRule.VhostUserVringIndex, f.Rule);
        Assert.Equal(2UL, f.Value);
    }

    [Fact]
    public void VringBase_BeyondSixteenBits_Faults()
    {
        // A split ring's avail index is 16 bits (a non-zero one resumes the ring: VhostUserResumeTests).
        var f = Attack(g => g.Send(VhostUserRequest.SetVringBase, State(1, 0x10000)));
        Assert.Equal(FaultRule.VhostUserVringSize, f.Rule);
        Assert.Equal("vring[1].base", f.Field);
        Assert.Equal(0x10000UL, f.Value);
    }

    [Fact]
    public void MemTable_MmapOffsetNotSixteenByteAligned_FaultsNamingIt()
    {
        // Ring fields aligned in guest memory must stay aligned in the mapping (an ARM64 atomic access to a misaligned
        // index is an alignment fault); any multiple of 16 is accepted (VhostUserSpecConformanceTests).
        var f = Attack(g =>
        {
            g.CreateGuest();
            g.Send(VhostUserRequest.SetMemTable, Table((GuestBase, 0x1000, GuestBase, 0x1008)), V, g.Memory!.Descriptor!.Value);
        });
        Assert.Equal(FaultRule.VhostUserMemoryTable, f.Rule);
        Assert.Equal("regions[0].mmap_offset", f.Field);
        Assert.Equal(0x1008UL, f.Value);
    }

    [Fact]
    public void VringAddr_BeforeMemTable_FaultsOnOrder()
    {
        var f = Attack(g =>
        {
            g.Send(VhostUserRequest.SetVringNum, State(0, 256));
            g.Send(VhostUserRequest.SetVringAddr, RingAt(0, Vring0));
        });
        Assert.Equal(FaultRule.VhostUserRequestOrder, f.Rule);
    }

    [Theory]
    [InlineData(0UL)]                       // below guest memory
    [InlineData(GuestBase + 0xFF000)]       // runs past its end
    [InlineData(ulong.MaxValue - 0xFFF)]    // wraps
    public void VringAddr_OutsideGuestMemory_Faults(ulong desc)
    {
        var f = Attack(g =>
        {
            MemTable(g);
            g.Send(VhostUserRequest.SetVringNum, State(0, 256));
            g.Send(VhostUserRequest.SetVringAddr, RingAt(0, desc));
        });
        Assert.Equal(FaultRule.VhostUserVringAddress, f.Rule);
    }

    [Fact]
    public void VringAddr_NotContiguous_Faults()
    {
        var f = Attack(g =>
        {
            MemTable(g);
            g.Send(VhostUserRequest.SetVringNum, State(0, 256));
            g.Send(VhostUserRequest.SetVringAddr, Address(0, Vring0, Vring0 + 0x3000, Vring0 + 0x1000)); // used one page too far
        });
        Assert.Equal(FaultRule.VhostUserVringAddress, f.Rule);
        Assert.Equal("vring[0].used", f.Field);
    }

    [Fact]
    public void VringAddr_LoggingFlag_Faults()
    {
        var f = Attack(g =>
        {
            MemTable(g);
            g.Send(VhostUserRequest.SetVringNum, State(0, 256));
            var address = RingAt(0, Vring0);
            address[4] = 1; // VHOST_VRING_F_LOG
            g.Send(VhostUserRequest.SetVringAddr, address);
        });
        Assert.Equal("vring[0].flags", f.Field);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(9u)]
    public void MemTable_RegionCountOutOfRange_Faults(uint count)
    {
        var f = Attack(g =>
        {
            var table = Table((GuestBase, 0x1000, GuestBase, 0));
            table[0] = (byte)count;
            g.Send(VhostUserRequest.SetMemTable, table);
        });
        Assert.Equal(FaultRule.VhostUserMemoryTable, f.Rule);
        Assert.Equal(count, f.Value);
    }

    [Fact]
    public void MemTable_DescriptorCountMismatch_Faults()
    {
        var f = Attack(g => g.Send(VhostUserRequest.SetMemTable, Table((GuestBase, 0x1000, GuestBase, 0))));
        Assert.Equal(FaultRule.VhostUserDescriptorCount, f.Rule);
        Assert.Equal(0UL, f.Value);
    }

    [Theory]
    [InlineData(0x200000UL, 0UL)]   // larger than the file
    [InlineData(0x1000UL, (ulong)MemorySize - 0x800)] // runs past the file's end (an unaligned offset is allowed)
    public void MemTable_RegionTheDescriptorCannotBack_FaultsOnTheDescriptor(ulong size, ulong offset)
    {
        var f = Attack(g =>
        {
            g.CreateGuest();
            g.Send(VhostUserRequest.SetMemTable, Table((GuestBase, size, GuestBase, offset)), V, g.Memory!.Descriptor!.Value);
        });
        Assert.Equal(FaultRule.VhostUserBadDescriptor, f.Rule);
    }

    [Fact]
    public void MemTable_DescriptorThatIsNotMemory_Faults()
    {
        using var devNull = FileDescriptor.Open("/dev/null", Native.OpenReadWrite);
        var f = Attack(g => g.Send(VhostUserRequest.SetMemTable, Table((GuestBase, 0x1000, GuestBase, 0)), V, devNull.Value));
        Assert.Equal(FaultRule.VhostUserBadDescriptor, f.Rule);
    }

    [Fact]
    public void MemTable_OverlappingRegions_Faults()
    {
        var f = Attack(g =>
        {
            g.CreateGuest();
            int fd = g.Memory!.Descriptor!.Value;
            g.Send(VhostUserRequest.SetMemTable, Table((GuestBase, 0x2000, GuestBase, 0), (GuestBase + 0x1000, 0x1000, GuestBase + 0x10000, 0)), V, fd, fd);
        });
        Assert.Equal(FaultRule.VhostUserMemoryTable, f.Rule);
        Assert.Equal("regions[1].guest_addr", f.Field);
    }

    [Fact]
    public void MemTable_WrappingRegion_Faults()
    {
        var f = Attack(g => g.Send(VhostUserRequest.SetMemTable, Table((ulong.MaxValue - 0xFFF, 0x2000, 0, 0)), V));
        Assert.Equal(FaultRule.VhostUserMemoryTable, f.Rule);
        Assert.Equal("regions[0].guest_addr", f.Field);
    }

    [Fact]
    public void VringKick_WithoutDescriptor_OrWithTwo_OrPolling_Faults()
    {
        Assert.Equal(FaultRule.VhostUserDescriptorCount, Attack(g => g.Send(VhostUserRequest.SetVringKick, U64(0))).Rule);
        Assert.Equal(FaultRule.VhostUserUnsupportedRequest, Attack(g => g.Send(VhostUserRequest.SetVringKick, U64(0x100))).Rule);
        Assert.Equal(FaultRule.VhostUserVringIndex, Attack(g => g.Send(VhostUserRequest.SetVringCall, U64(0x10000))).Rule);
        var two = Attack(g =>
        {
            g.CreateGuest();
            g.Send(VhostUserRequest.SetVringKick, U64(0), V, g.Doorbell!.PeerInbound.Value, g.Doorbell.PeerOutbound.Value);
        });
        Assert.Equal(FaultRule.VhostUserDescriptorCount, two.Rule);
        Assert.Equal(2UL, two.Value);
    }

    [Fact]
    public void VringEnable_NeitherZeroNorOne_Faults()
    {
        var f = Attack(g => g.Send(VhostUserRequest.SetVringEnable, State(0, 7)));
        Assert.Equal("vring[0].enable", f.Field);
    }

    [Fact]
    public void TruncatedMessage_EndsWithoutFault_AndSaysWhy()
    {
        string? reason = null;
        using var server = new VhostUserRpmsgServer("@vrpmsg-vhost-hostile-" + Guid.NewGuid().ToString("N"), new VhostUserRpmsgOptions { GuestDisconnected = (_, _, why) => reason = why });
        using var guest = new VhostUserTestFrontEnd(server);
        guest.SendRaw((uint)VhostUserRequest.SetFeatures, V, 8, new byte[3]);
        guest.CloseConnection();
        Assert.Null(guest.Outcome());
        Assert.Contains("middle of a message (3 of 8 bytes", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void GuestGoneBeforeItsReply_EndsTheConnection_AndTheServerServesTheNext()
    {
        string? reason = null;
        using var server = new VhostUserRpmsgServer("@vrpmsg-vhost-hostile-" + Guid.NewGuid().ToString("N"), new VhostUserRpmsgOptions { GuestDisconnected = (_, _, why) => reason = why });
        NativeCallException.ThrowIfError(Native.SocketPair(Native.SockStream, out int guestEnd, out int backEndEnd), "socketpair", "test");
        using (var gone = new FileDescriptor(guestEnd))
        {
            // GET_FEATURES asks for a reply; the guest closes before the back-end reads the request, so the reply's
            // send fails (EPIPE).
            var header = new byte[VhostUserHeader.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)VhostUserRequest.GetFeatures);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), V);
            Assert.Equal(header.Length, Native.SendFds(gone.Value, header, []));
        }
        Assert.Null(server.Serve(new FileDescriptor(backEndEnd), CancellationToken.None));
        Assert.Contains("the connection failed", reason, StringComparison.Ordinal);
        Assert.Contains("send", reason, StringComparison.Ordinal);
        using var next = new VhostUserTestFrontEnd(server);
        next.SetUpLikeVirtioUml();
        Assert.Equal(2, server.GuestsServed);
    }

    [Fact]
    public void FaultAfterDeviceIsLive_StopsTheDevice()
    {
        RpmsgDevice? device = null;
        using var server = new VhostUserRpmsgServer("@vrpmsg-vhost-hostile-" + Guid.NewGuid().ToString("N"), new VhostUserRpmsgOptions { DeviceCreated = d => device = d });
        using var guest = new VhostUserTestFrontEnd(server);
        guest.SetUpLikeVirtioUml();
        Assert.NotNull(device);
        guest.SendRaw(77, V, 0, default);
        var fault = guest.Outcome();
        Assert.Equal(FaultRule.VhostUserUnsupportedRequest, fault!.Rule);
        Assert.Equal(RpmsgDeviceState.Stopped, device!.State);
        Assert.Contains("77", device.StateReason, StringComparison.Ordinal);
    }
}
