namespace VirtioRpmsg.Tests.Infrastructure;

public class PeerProcessTests
{
    [Fact]
    public void Start_EchoLinesMode_EchoesAndExitsCleanly()
    {
        using var peer = PeerProcess.Start("echo-lines");
        peer.Expect("READY", TimeSpan.FromSeconds(30));
        peer.Send("hello");
        Assert.Equal("hello", peer.ReadLine(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, peer.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Dispose_RunningPeer_KillsIt()
    {
        var peer = PeerProcess.Start("echo-lines");
        peer.Expect("READY", TimeSpan.FromSeconds(30));
        int pid = peer.Id;
        peer.Dispose();
        Assert.Throws<ArgumentException>(() => System.Diagnostics.Process.GetProcessById(pid));
    }
}
