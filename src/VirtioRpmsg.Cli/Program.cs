using System.CommandLine;
using VirtioRpmsg.Cli.Commands;

namespace VirtioRpmsg.Cli;

/// <summary>
/// The <c>rpmsg</c> tool. Each subcommand is its own class in Commands/ with a static <c>Create()</c>
/// that returns its <see cref="Command"/>; add a new one to <see cref="BuildRoot"/>.
/// Exit codes: 0 success, 1 failure (one line on stderr), 2 bad command line, 130 interrupted (Ctrl+C).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = BuildRoot();
        // Ctrl+C / SIGTERM are handled by each command (CliRunner), which cleans up before it returns.
        var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
        var parsed = root.Parse(args, Parsing);
        if (parsed.Errors.Count > 0)
        {
            // One line per error, no usage dump: the exit code and the reason are what scripts look at.
            foreach (var error in parsed.Errors)
                Console.Error.WriteLine($"rpmsg: {error.Message.ReplaceLineEndings(" ").Replace('\t', ' ')} (see 'rpmsg --help')");
            return ExitCodes.Usage;
        }
        return parsed.Invoke(invocation);
    }

    /// <summary>
    /// No response files: an argument starting with '@' is an abstract Unix socket name here (<c>--vhost-user @name</c>),
    /// which the parser would otherwise try to read as a file of arguments.
    /// </summary>
    public static ParserConfiguration Parsing { get; } = new() { ResponseFileTokenReplacer = null };

    /// <summary>The root command with every subcommand.</summary>
    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("rpmsg: a userspace virtio-rpmsg stack; talk to a remote processor over shared memory.");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(RemoteCommand.Create());
        root.Subcommands.Add(PingCommand.Create());
        root.Subcommands.Add(SendCommand.Create());
        root.Subcommands.Add(ListenCommand.Create());
        root.Subcommands.Add(ListCommand.Create());
        root.Subcommands.Add(DumpCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        return root;
    }
}
