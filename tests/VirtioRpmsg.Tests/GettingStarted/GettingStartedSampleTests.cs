namespace VirtioRpmsg.Tests.GettingStarted;

/// <summary>
/// The programs docs/getting-started.md shows are samples/GettingStarted, verbatim, and each one runs: built with the
/// tests, started as its own process against the simulated remote, it prints the echo.
/// </summary>
public sealed class GettingStartedSampleTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Samples => new(SampleProgram.Names);

    [Theory]
    [MemberData(nameof(Samples))]
    public void Doc_ShowsEverySampleVerbatim(string name)
    {
        string source = SampleProgram.SourceOf(name).ReplaceLineEndings("\n");
        string doc = SampleProgram.GettingStartedDoc().ReplaceLineEndings("\n");

        Assert.True(doc.Contains("```csharp\n" + source + "```\n", StringComparison.Ordinal),
            $"docs/getting-started.md must show samples/GettingStarted/{name}/Program.cs exactly, in a ```csharp block:\n{source}");
    }

    [Fact]
    public void Link_FirstSample_IsAtMostTenLinesAndComesFirst()
    {
        string source = SampleProgram.SourceOf("Link").ReplaceLineEndings("\n");
        string doc = SampleProgram.GettingStartedDoc().ReplaceLineEndings("\n");

        Assert.True(source.TrimEnd('\n').Split('\n').Length <= 10, "the ten-line start: " + source);
        Assert.Equal(doc.IndexOf("```csharp\n", StringComparison.Ordinal), doc.IndexOf("```csharp\n" + source, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Link")]
    [InlineData("Board")]
    public void BoardSample_AgainstSimulatedRemote_PrintsTheEcho(string name)
    {
        using var board = new SimulatedBoard();

        var (code, stdout, stderr, _) = SampleProgram.Run(name, board.Directory, Limit);

        Assert.True(code == 0, $"sample {name} exited with {code}\nstdout: {stdout}\nstderr: {stderr}");
        // The simulated remote's echo endpoint is 0x401 (its command endpoint is 0x400), and the page says so.
        Assert.Equal("0x401 says: hello, remote\n", stdout.ReplaceLineEndings("\n"));
        Assert.Contains("Output: `0x401 says: hello, remote`", SampleProgram.GettingStartedDoc());
    }

    [Fact]
    public void SimulatedSample_RemoteInsideTheProcess_PrintsTheEchoAndLeavesNoFile()
    {
        var (code, stdout, stderr, pid) = SampleProgram.Run("Simulated", Path.GetTempPath(), Limit);
        string shm = $"/dev/shm/vrpmsg-hello-{pid}.shm"; // the sample's own name for it: runs side by side never share one
        try
        {
            Assert.True(code == 0, $"sample exited with {code}\nstdout: {stdout}\nstderr: {stderr}");
            Assert.Equal("0x400 says: hello, remote\n", stdout.ReplaceLineEndings("\n"));
            Assert.False(File.Exists(shm), "the sample deletes its shared-memory file");
        }
        finally
        {
            File.Delete(shm);
        }
    }
}
