using System.CommandLine;
using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Cli;

/// <summary>Options several subcommands share (each call makes a new instance: an option belongs to one command).</summary>
internal static class CliOptions
{
    public static Option<bool> Verbose() => new("--verbose", "-v") { Description = "Log details, and print the stack trace of a failure." };

    public static Option<FileInfo?> Platform() => new("--platform")
    {
        Description = "Platform description (JSON, see docs/platform-description.md) of a real setup, instead of the simulated remote.",
    };

    public static Option<string> Wait()
    {
        var option = new Option<string>("--wait")
        {
            Description = "How the receive side waits: interrupt (block on the doorbell), poll (busy-poll), hybrid (spin, then block).",
            DefaultValueFactory = _ => "interrupt",
            HelpName = "interrupt|poll|hybrid",
        };
        option.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string>();
            if (value is not ("interrupt" or "poll" or "hybrid"))
                r.AddError($"--wait must be interrupt, poll or hybrid, not '{value}'");
        });
        return option;
    }

    public static RpmsgWaitStrategy ParseWait(string? value) => value switch
    {
        "poll" => RpmsgWaitStrategy.BusyPoll,
        "hybrid" => RpmsgWaitStrategy.Hybrid,
        _ => RpmsgWaitStrategy.Interrupt,
    };
}
