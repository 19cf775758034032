namespace VirtioRpmsg.TestPeer;

/// <summary>Ends this process when the test that started it goes away (its end of stdin closes).</summary>
public static class ParentWatch
{
    /// <summary>Starts a background thread that exits the process with <paramref name="exitCode"/> on stdin EOF.
    /// Use in modes that do not read stdin themselves.</summary>
    public static void ExitWhenStdinCloses(int exitCode = 3)
    {
        var t = new Thread(() =>
        {
            var stdin = Console.OpenStandardInput();
            var buffer = new byte[64];
            while (stdin.Read(buffer, 0, buffer.Length) > 0)
            {
            }
            Environment.Exit(exitCode);
        })
        { IsBackground = true, Name = "parent-watch" };
        t.Start();
    }
}
