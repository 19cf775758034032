using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// <see cref="RpmsgDeviceOptions.Validate"/> refuses, naming the property and its value, what would otherwise go
/// wrong only later: a dispatcher dying on its first idle wait, an undefined strategy running as busy-poll, a null
/// logger failing on the first fault it reports.
/// </summary>
public class RpmsgDeviceOptionsTests
{
    [Fact]
    public void Validate_Defaults_AreAccepted() => new RpmsgDeviceOptions().Validate();

    // case -> (the property the error must name, the change)
    private static readonly Dictionary<string, (string Property, Action<RpmsgDeviceOptions> Change)> OutOfRangeCases = new()
    {
        // The dispatcher used to accept it and die at its first idle wait ("timeout" out of range).
        ["negative recheck"] = (nameof(RpmsgDeviceOptions.IdleRecheckInterval), o => o.IdleRecheckInterval = TimeSpan.FromMilliseconds(-5)),
        ["zero recheck"] = (nameof(RpmsgDeviceOptions.IdleRecheckInterval), o => o.IdleRecheckInterval = TimeSpan.Zero),
        ["infinite recheck"] = (nameof(RpmsgDeviceOptions.IdleRecheckInterval), o => o.IdleRecheckInterval = Timeout.InfiniteTimeSpan),
        ["recheck past int.MaxValue ms"] = (nameof(RpmsgDeviceOptions.IdleRecheckInterval), o => o.IdleRecheckInterval = TimeSpan.FromDays(30)),
        ["negative hybrid spin"] = (nameof(RpmsgDeviceOptions.HybridSpin), o => o.HybridSpin = TimeSpan.FromTicks(-1)),
        ["negative busy-poll idle"] = (nameof(RpmsgDeviceOptions.BusyPollIdleTimeout), o => o.BusyPollIdleTimeout = TimeSpan.FromMilliseconds(-1)),
        // Bound from configuration, (RpmsgWaitStrategy)42 silently ran as busy-poll.
        ["undefined wait strategy"] = (nameof(RpmsgDeviceOptions.WaitStrategy), o => o.WaitStrategy = (RpmsgWaitStrategy)42),
        // The queue's ring counts in 30 bits (the top one marks it closed): a count that reached it read as a closed,
        // empty queue, dropping everything queued (reachable with a MaxQueuedBytes of long.MaxValue and a flood).
        ["queue capacity past the ring's count"] = (nameof(RpmsgDeviceOptions.EndpointQueueCapacity), o => o.EndpointQueueCapacity = 1 << 30),
    };

    public static TheoryData<string> OutOfRange() => new(OutOfRangeCases.Keys);

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public void Validate_OutOfRange_ThrowsNamingThePropertyAndValue(string name)
    {
        var (property, change) = OutOfRangeCases[name];
        var options = new RpmsgDeviceOptions();
        change(options);

        var e = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);

        Assert.Equal(property, e.ParamName);
        Assert.NotNull(e.ActualValue);
        Assert.StartsWith(property, e.Message);
    }

    [Fact]
    public void Validate_NullLogger_ThrowsNamingIt()
    {
        var options = new RpmsgDeviceOptions { Logger = null! };

        var e = Assert.Throws<ArgumentNullException>(options.Validate);

        Assert.Equal(nameof(RpmsgDeviceOptions.Logger), e.ParamName);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Validate_NoName_ThrowsNamingIt(string? name)
    {
        var options = new RpmsgDeviceOptions { Name = name! };

        var e = Assert.ThrowsAny<ArgumentException>(options.Validate);

        Assert.Equal(nameof(RpmsgDeviceOptions.Name), e.ParamName);
    }

    [Fact]
    public void Validate_ZeroSendTimeout_IsAcceptedAndANegativeOneSaysZeroIsAllowed()
    {
        // Zero is a try (Deadline.Within): the message used to say "positive or infinite" while zero passed.
        new RpmsgDeviceOptions { SendTimeout = TimeSpan.Zero }.Validate();

        var e = Assert.Throws<ArgumentOutOfRangeException>(new RpmsgDeviceOptions { SendTimeout = TimeSpan.FromMilliseconds(-2) }.Validate);

        Assert.Equal(nameof(RpmsgDeviceOptions.SendTimeout), e.ParamName);
        Assert.Contains("zero", e.Message);
    }
}
