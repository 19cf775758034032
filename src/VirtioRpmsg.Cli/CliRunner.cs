using System.Runtime.InteropServices;

namespace VirtioRpmsg.Cli;

/// <summary>
/// Runs a subcommand's body: turns Ctrl+C, SIGTERM and SIGHUP into cancellation of the token it gets (the body
/// then unwinds through its <c>using</c>s, so children and files are cleaned up), and every exception into
/// one line on stderr and exit code 1 (with the stack trace when <c>--verbose</c>).
/// </summary>
internal static class CliRunner
{
    public static int Run(string command, bool verbose, Func<CancellationToken, int> body)
    {
        using var interrupted = new CancellationTokenSource();
        void OnSignal(PosixSignalContext context)
        {
            // Keep the process alive: the body cleans up and returns 130.
            context.Cancel = true;
            try
            {
                interrupted.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);
        try
        {
            return body(interrupted.Token);
        }
        catch (Exception e) when (interrupted.IsCancellationRequested)
        {
            // Whatever the interrupt made fail (on Ctrl+C the child remote gets the signal too), it was the interrupt.
            Console.Error.WriteLine($"rpmsg {command}: interrupted; cleaned up");
            if (verbose)
                Console.Error.WriteLine(e.ToString());
            return ExitCodes.Interrupted;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"rpmsg {command}: {(e is CliFailure ? "" : e.GetType().Name + ": ")}{e.Message.ReplaceLineEndings(" ")}");
            if (verbose)
                Console.Error.WriteLine(e.ToString());
            return ExitCodes.Failure;
        }
    }
}
