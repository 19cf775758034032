using System.Diagnostics;

namespace VirtioRpmsg.Cli;

/// <summary>A one-line progress bar on stdout, redrawn in place at most ten times a second (use only on a terminal).</summary>
internal sealed class ProgressBar(int total)
{
    private const int Width = 40;
    private long _next;

    public void Update(int done)
    {
        long now = Stopwatch.GetTimestamp();
        if (now < _next && done < total)
            return;
        _next = now + Stopwatch.Frequency / 10;
        int filled = (int)((long)done * Width / total);
        Console.Write($"\r[{new string('#', filled)}{new string('.', Width - filled)}] {done}/{total}");
    }

    public void Clear() => Console.Write($"\r{new string(' ', Width + 30)}\r");
}
