using System.Text;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

public class RpmsgWireTests
{
    // The 40 bytes of a CREATE of "svc" at 1024, which the name-service tests then alter.
    private static byte[] SvcCreate()
    {
        var bytes = new byte[NameServiceMessage.Size];
        new NameServiceMessage("svc", 1024, NameServiceFlags.Create).Write(bytes);
        return bytes;
    }

    [Fact]
    public void Header_Write_MatchesWireLayout()
    {
        var bytes = new byte[16];
        new RpmsgHeader(0x400, 0x35, 0, 40, 0).Write(bytes);
        Assert.Equal(new byte[] { 0x00, 0x04, 0, 0, 0x35, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0 }, bytes);
    }

    [Fact]
    public void Header_Read_DecodesLittleEndianFields()
    {
        byte[] bytes = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0xF0, 0x01, 0x02, 0x00];
        var h = RpmsgHeader.Read(bytes);
        Assert.Equal(0x04030201u, h.Source);
        Assert.Equal(0x08070605u, h.Destination);
        Assert.Equal(0x0C0B0A09u, h.Reserved);
        Assert.Equal((ushort)0x01F0, h.Length);
        Assert.Equal((ushort)2, h.Flags);
    }

    [Fact]
    public void Header_ReadShortSpan_ThrowsProtocolException()
    {
        var ex = Assert.Throws<RpmsgProtocolException>(() => RpmsgHeader.Read(new byte[15]));
        Assert.Equal("header", ex.Field);
        Assert.Equal(15ul, ex.Value);
    }

    [Fact]
    public void NameService_Write_MatchesWireLayout()
    {
        var bytes = new byte[40];
        new NameServiceMessage("rpmsg-echo", 0x400, NameServiceFlags.Destroy).Write(bytes);
        Assert.Equal("rpmsg-echo"u8.ToArray(), bytes[..10]);
        Assert.All(bytes[10..32], b => Assert.Equal(0, b));
        Assert.Equal(new byte[] { 0x00, 0x04, 0, 0, 1, 0, 0, 0 }, bytes[32..]);
    }

    [Fact]
    public void NameService_RoundTrip_PreservesFields()
    {
        var bytes = new byte[40];
        var msg = new NameServiceMessage("rpmsg-client-sample", 1025, NameServiceFlags.Create);
        msg.Write(bytes);
        Assert.True(NameServiceMessage.TryParse(bytes, out var back, out var error), error);
        Assert.Equal(msg, back);
    }

    [Theory]
    [InlineData(0, "not valid UTF-8")]
    [InlineData(1, "ADDR_ANY")]
    [InlineData(3, "length 39 is not 40")]
    [InlineData(4, "empty")]
    [InlineData(5, "length 41 is not 40")]
    [InlineData(6, "length 72 is not 40")]
    public void NameService_TryParseMalformed_ReturnsFalseWithReason(int kind, string expected)
    {
        var bytes = SvcCreate();
        switch (kind)
        {
            case 0: bytes[0] = 0xFF; break;
            case 1: BitConverter.TryWriteBytes(bytes.AsSpan(32), RpmsgAddress.Any); break;
            case 3: bytes = bytes[..39]; break;
            case 4: bytes.AsSpan(0, 32).Clear(); break;
            case 5: bytes = [.. bytes, 0]; break;
            case 6: bytes = [.. bytes, .. new byte[32]]; break; // old TI layout: a 32-byte description before addr
        }
        Assert.False(NameServiceMessage.TryParse(bytes, out _, out var error));
        Assert.Contains(expected, error);
    }

    // Linux, OpenAMP and RPMsg-Lite test flags & RPMSG_NS_DESTROY: the other bits do not refuse the message.
    [Theory]
    [InlineData(2u, NameServiceFlags.Create)]
    [InlineData(3u, NameServiceFlags.Destroy)]
    [InlineData(0x80000000u, NameServiceFlags.Create)]
    [InlineData(0xFFFFFFFFu, NameServiceFlags.Destroy)]
    public void NameService_TryParse_FlagsBeyondBit0_DecidedByBit0(uint flags, NameServiceFlags expected)
    {
        var bytes = SvcCreate();
        BitConverter.TryWriteBytes(bytes.AsSpan(36), flags);
        Assert.True(NameServiceMessage.TryParse(bytes, out var msg, out var error), error);
        Assert.Equal(expected, msg.Flags);
        Assert.Equal("svc", msg.Name);
        Assert.Equal(1024u, msg.Address);
    }

    // Linux's rpmsg_ns_cb forces name[31] = 0; OpenAMP sends 32-byte names without NUL (strncpy).
    [Fact]
    public void NameService_TryParse_NameFilling32BytesWithoutNul_TakesItsFirst31Bytes()
    {
        var bytes = SvcCreate();
        bytes.AsSpan(0, 32).Fill((byte)'a');
        Assert.True(NameServiceMessage.TryParse(bytes, out var msg, out var error, out bool truncated), error);
        Assert.True(truncated);
        Assert.Equal(new string('a', 31), msg.Name);
        Assert.Equal(1024u, msg.Address);
    }

    // 29 ASCII bytes and a 3-byte character fill 32 bytes; the cut at 31 splits the character. Linux keeps the
    // bytes; the name is the whole characters before the cut.
    [Fact]
    public void NameService_TryParse_CutInsideAMultiByteCharacter_KeepsTheWholeCharactersBefore()
    {
        var bytes = SvcCreate();
        var name = new string('b', 29) + "\u20AC"; // the euro sign: E2 82 AC
        Assert.Equal(32, Encoding.UTF8.GetBytes(name, bytes));
        Assert.True(NameServiceMessage.TryParse(bytes, out var msg, out var error, out bool truncated), error);
        Assert.True(truncated);
        Assert.Equal(new string('b', 29), msg.Name);
    }

    // A bad byte before the cut is still refused, and so is a split character in a name that has its NUL.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void NameService_TryParse_InvalidUtf8BesideACut_Refused(bool filled)
    {
        var bytes = SvcCreate();
        if (filled)
        {
            bytes.AsSpan(0, 32).Fill((byte)'c');
            bytes[5] = 0xFF;
        }
        else
        {
            bytes[3] = 0xE2; // a 3-byte character's first byte, then the NUL
        }
        Assert.False(NameServiceMessage.TryParse(bytes, out _, out var error));
        Assert.Contains("not valid UTF-8", error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a-name-that-is-longer-than-31-bytes")]
    [InlineData("nul\0inside")]
    public void NameService_InvalidName_Throws(string name)
    {
        Assert.Throws<ArgumentException>(() => NameServiceMessage.ValidateName(name));
    }
}
