using System.CommandLine;
using System.Globalization;
using VirtioRpmsg.Harness;

namespace VirtioRpmsg.Cli.Commands;

/// <summary>
/// <c>rpmsg bench</c>: the benchmark report (C baselines, then the in-process and cross-process scenarios),
/// the same code as <c>bench/VirtioRpmsg.Benchmarks report</c>; writes docs/benchmarks.md and docs/latency.svg
/// under the repository root, or <c>--out</c>/<c>--svg</c>.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "A short run (a few thousand round trips per case): checks the harness, not the speed." };
        var output = new Option<string?>("--out") { Description = "Markdown report to write (default docs/benchmarks.md in the repository).", HelpName = "FILE.md" };
        var svg = new Option<string?>("--svg") { Description = "Latency plot to write (default: next to --out, or docs/latency.svg).", HelpName = "FILE.svg" };
        var scenario = new Option<string[]>("--scenario")
        {
            Description = $"Scenario to run (repeatable; default all: {InProcessEchoScenario.ScenarioName}, {CrossProcessEchoScenario.ScenarioName}).",
            HelpName = $"{InProcessEchoScenario.ScenarioName}|{CrossProcessEchoScenario.ScenarioName}",
        };
        var hostCpu = new Option<int>("--host-cpu") { Description = "CPU of the host side.", DefaultValueFactory = _ => 0, HelpName = "N" };
        var remoteCpu = new Option<int>("--remote-cpu") { Description = "CPU of the remote side.", DefaultValueFactory = _ => 1, HelpName = "N" };
        foreach (var cpu in new[] { hostCpu, remoteCpu })
        {
            CliOptions.Check(cpu, value => value < 0 ? $"{cpu.Name} must not be negative, not {value}" : null);
        }
        var coldStart = new Option<FileInfo?>("--cold-start")
        {
            Description = "Instead: cold start (process start to the first verified echo) and steady ping p50 of this JIT program against this NativeAOT rpmsg binary; writes docs/benchmarks-cold-start.md (or --out), which the report includes.",
            HelpName = "AOT_RPMSG",
        };
        var runs = new Option<int>("--runs") { Description = "Cold starts per CLI with --cold-start.", DefaultValueFactory = _ => 10, HelpName = "N" };
        CliOptions.Check(runs, value => value < 1 ? $"--runs must be at least 1, not {value}" : null);
        var verbose = CliOptions.Verbose();
        var command = new Command("bench", "Run the benchmark suite (baselines, in-process and cross-process echo and streaming) and write the report.")
        {
            quick, output, svg, scenario, hostCpu, remoteCpu, coldStart, runs, verbose,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(coldStart) is { } aot)
                return CliRunner.Run("bench", parse.GetValue(verbose), ct => ColdStartCommand.Run(aot, parse.GetValue(runs), parse.GetValue(quick), parse.GetValue(output), ct));
            var args = new List<string>();
            if (parse.GetValue(quick))
                args.Add("--quick");
            string? md = parse.GetValue(output);
            string? plot = parse.GetValue(svg) ?? (md is null ? null : Path.ChangeExtension(md, ".svg"));
            if (md is not null)
                args.AddRange(["--out", md]);
            if (plot is not null)
                args.AddRange(["--svg", plot]);
            foreach (string name in parse.GetValue(scenario) ?? [])
                args.AddRange(["--scenario", name]);
            // Only when chosen, so the report's "how to reproduce" line stays short.
            if (parse.GetResult(hostCpu) is { Implicit: false })
                args.AddRange(["--host-cpu", parse.GetValue(hostCpu).ToString(CultureInfo.InvariantCulture)]);
            if (parse.GetResult(remoteCpu) is { Implicit: false })
                args.AddRange(["--remote-cpu", parse.GetValue(remoteCpu).ToString(CultureInfo.InvariantCulture)]);
            bool v = parse.GetValue(verbose);
            return CliRunner.Run("bench", v, ct => ReportCommand.Run(args, Console.Out, Console.Error, Registry(), ct));
        });
        return command;
    }

    /// <summary>Every scenario: in-process, and cross-process with the remote run by this very program (<c>rpmsg remote</c>).</summary>
    public static ScenarioRegistry Registry() =>
        ScenarioRegistry.CreateDefault()
            .Register(CrossProcessEchoScenario.ScenarioName, c => new CrossProcessEchoScenario(c.HostCpu, c.RemoteCpu, remoteWarmup: c.RemoteWarmup));
}
