using System.Text;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Tests.GettingStarted;

/// <summary>
/// A "board" for the getting-started programs: a scratch directory holding board.json (the two-process simulated
/// description over a fresh /dev/shm file) and the simulated remote running in this process, already past the point
/// where it wrote its resource table and waits for a host. Dispose stops the remote and removes every file.
/// </summary>
internal sealed class SimulatedBoard : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly CancellationTokenSource _stop = new();
    private readonly LineSignalWriter _output = new();
    private readonly Thread _remote;
    private Exception? _remoteFailure;

    private readonly IReadOnlyList<string> _echoNames;

    public SimulatedBoard(PlatformWaitStrategy wait = PlatformWaitStrategy.Interrupt, IReadOnlyList<string>? echoNames = null)
    {
        _echoNames = echoNames ?? [SimulatedRemote.EchoServiceName];
        Directory = Path.Combine(Path.GetTempPath(), "vrpmsg-gs-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        SharedMemoryPath = "/dev/shm/vrpmsg-gs-" + Guid.NewGuid().ToString("N") + ".shm";
        BoardFile = Path.Combine(Directory, "board.json");
        File.WriteAllText(BoardFile, (SimulatedPlatform.Description(SharedMemoryPath) with { WaitStrategy = wait }).ToJson());
        _remote = new Thread(RunRemote) { IsBackground = true, Name = "getting-started-remote" };
        _remote.Start();
        // The remote prints this once the table is written: a host may open the board from then on.
        if (!_output.WaitFor("waiting for a host", Bound))
            throw new TimeoutException($"the simulated remote did not get ready within {Bound.TotalSeconds} s: {_remoteFailure?.Message ?? _output.Text}");
    }

    public string Directory { get; }

    public string BoardFile { get; }

    public string SharedMemoryPath { get; }

    private void RunRemote()
    {
        try
        {
            SimulatedRemoteChild.Run(new SimulatedRemoteChildOptions { SharedMemoryPath = SharedMemoryPath, PlatformFile = BoardFile, ReadCommands = false, EchoNames = _echoNames },
                TextReader.Null, _output, _stop.Token);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _remoteFailure = e;
            _output.WriteLine("remote failed: " + e.Message);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        if (!_remote.Join(Bound))
            throw new TimeoutException($"the simulated remote did not stop within {Bound.TotalSeconds} s");
        File.Delete(SharedMemoryPath);
        System.IO.Directory.Delete(Directory, recursive: true);
        _stop.Dispose();
    }

    /// <summary>Collects what the remote prints and lets a test wait for a line.</summary>
    internal sealed class LineSignalWriter : TextWriter
    {
        private readonly StringBuilder _text = new();

        public override Encoding Encoding => Encoding.UTF8;

        public string Text
        {
            get
            {
                lock (_text)
                    return _text.ToString();
            }
        }

        public override void Write(char value)
        {
            lock (_text)
            {
                _text.Append(value);
                Monitor.PulseAll(_text);
            }
        }

        public bool WaitFor(string text, TimeSpan limit)
        {
            var deadline = DateTime.UtcNow + limit;
            lock (_text)
            {
                while (!_text.ToString().Contains(text, StringComparison.Ordinal))
                {
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero)
                        return false;
                    Monitor.Wait(_text, left);
                }
                return true;
            }
        }
    }
}
