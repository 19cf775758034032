using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Tests.Platform;

/// <summary>What the library prints of peer and file text (<see cref="PrintableText"/>).</summary>
public class PrintableTextTests
{
    [Theory]
    [InlineData("rpmsg-echo", "rpmsg-echo")]
    [InlineData("caf\u00E9 \U0001F600", "caf\u00E9 \U0001F600")] // printable, a surrogate pair included
    [InlineData("a\nb\u001B[2J", "a\\u000Ab\\u001B[2J")]
    // Bidirectional formatting: an override (U+202E) would show "evil\u202Etxt.exe" as "evilexe.txt".
    [InlineData("evil\u202Etxt.exe", "evil\\u202Etxt.exe")]
    [InlineData("\u2066a\u2069\u200E\u200F\u061C", "\\u2066a\\u2069\\u200E\\u200F\\u061C")]
    public void Of_EscapesWhatWouldGarbleOrReorderALine(string text, string expected)
    {
        Assert.Equal(expected, PrintableText.Of(text));
        Assert.Equal(expected, PrintableText.Of(PrintableText.Of(text))); // idempotent
    }

    // Built at run time: a lone surrogate in attribute data does not survive the test runner's serialization.
    [Fact]
    public void Of_EscapesALoneSurrogate()
    {
        string text = "x" + (char)0xD800 + "y";
        Assert.Equal("x\\uD800y", PrintableText.Of(text));
    }
}
