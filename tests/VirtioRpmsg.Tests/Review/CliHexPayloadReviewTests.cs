using VirtioRpmsg.Cli;

namespace VirtioRpmsg.Tests.Review;

/// <summary>
/// <c>send --hex</c> says what is wrong with the hex it was given: a character that is not a hex digit is named, and
/// only an odd count of digits is called odd (all of it used to be "not an even number of hex digits", also for
/// "zz"). <c>send --file DIR</c> says it is a directory (it was "Access to the path is denied").
/// </summary>
public sealed class CliHexPayloadReviewTests
{
    [Theory]
    [InlineData("zz", "'z'")]
    [InlineData("01 0g", "'g'")]
    [InlineData("0x01-02", "'-'")]
    public void Read_HexWithANonHexCharacter_NamesTheCharacter(string hex, string named)
    {
        var e = Assert.Throws<CliFailure>(() => Payloads.Read(null, hex, null, 496));

        Assert.Contains($"--hex '{hex}'", e.Message);
        Assert.Contains(named, e.Message);
        Assert.DoesNotContain("even number", e.Message);
    }

    [Fact]
    public void Read_HexWithAnOddNumberOfDigits_SaysOdd()
    {
        var e = Assert.Throws<CliFailure>(() => Payloads.Read(null, "01 f", null, 496));

        Assert.Contains("--hex '01 f'", e.Message);
        Assert.Contains("odd number of hex digits (3)", e.Message);
    }

    [Fact]
    public void Read_HexWithSpacesColonsAndPrefix_IsTheBytes() =>
        Assert.Equal([0x01, 0xFF, 0xA0], Payloads.Read(null, "0x01:ff a0", null, 496));

    [Fact]
    public void Read_FileThatIsADirectory_SaysSo()
    {
        string dir = Path.GetTempPath().TrimEnd('/');

        var e = Assert.Throws<CliFailure>(() => Payloads.Read(null, null, dir, 496));

        Assert.Equal($"--file {dir}: is a directory, not a file", e.Message);
    }
}
