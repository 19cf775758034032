using BenchmarkDotNet.Running;
using VirtioRpmsg.Harness;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Benchmarks;

public static class Program
{
    /// <summary>
    /// <c>report [--quick] ...</c> runs the whole harness and writes docs/benchmarks.md and docs/latency.svg
    /// (see <see cref="ReportCommand"/>); anything else goes to BenchmarkDotNet (<c>--filter '*Rpmsg*'</c>).
    /// </summary>
    public static int Main(string[] args)
    {
        // The cross-process scenario's child: this program, started with "remote ...".
        if (SimulatedRemoteChild.TryRun(args, out int code))
            return code;
        if (args.Length > 0 && args[0] == "report")
        {
            var registry = ScenarioRegistry.CreateDefault()
                .Register(CrossProcessEchoScenario.ScenarioName, c => new CrossProcessEchoScenario(c.HostCpu, c.RemoteCpu, remoteWarmup: c.RemoteWarmup));
            return ReportCommand.Run(args[1..], Console.Out, Console.Error, registry);
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
