using VirtioRpmsg.Harness;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Bench;

public class EchoRequestTests
{
    [Theory]
    [InlineData(0, RpmsgWaitStrategy.BusyPoll, 10, 1, "PayloadSize")]
    [InlineData(497, RpmsgWaitStrategy.BusyPoll, 10, 1, "PayloadSize")]
    [InlineData(64, RpmsgWaitStrategy.BusyPoll, 0, 1, "Count")]
    [InlineData(64, RpmsgWaitStrategy.BusyPoll, 10, 0, "Depth")]
    [InlineData(64, RpmsgWaitStrategy.CallerPoll, 10, 1, "Wait")]
    public void Validate_FieldOutOfRange_ThrowsNamingTheField(int size, RpmsgWaitStrategy wait, int count, int depth, string field)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new EchoRequest(size, wait, count, depth).Validate());

        Assert.Equal(field, e.ParamName);
    }

    [Fact]
    public void Validate_StreamWithCallerPoll_ThrowsNamingWait()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new StreamRequest(64, RpmsgWaitStrategy.CallerPoll, 10).Validate());

        Assert.Equal("Wait", e.ParamName);
        Assert.Contains("stream", e.Message);
    }

    [Fact]
    public void Label_Pipelined_NamesSizeWaitAndDepth()
    {
        Assert.Equal("64 B busy-poll x16", new EchoRequest(64, RpmsgWaitStrategy.BusyPoll, 10, 16).Label);
        Assert.Equal("1 B interrupt", new EchoRequest(1, RpmsgWaitStrategy.Interrupt, 10).Label);
    }
}
