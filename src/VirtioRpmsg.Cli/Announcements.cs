using System.Collections.Concurrent;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli;

/// <summary>
/// Opens the host side (interrupt wait) recording every service the remote announces. Against the simulated
/// remote (echo and sink) it waits, bounded, until the services the child reported have been announced; with
/// a platform description it waits the settle time.
/// </summary>
internal static class Announcements
{
    public static HostSession Open(string command, FileInfo? platform, TimeSpan settle, bool verbose, CancellationToken ct, out IReadOnlyCollection<(string Name, uint Address)> services)
    {
        var seen = new ConcurrentQueue<(string Name, uint Address)>();
        var session = HostLink.Open(command, platform, RpmsgWaitStrategy.Interrupt, SimulatedServices.Echo | SimulatedServices.Sink, verbose,
            verbose ? Console.Error.WriteLine : null, ct, host => host.UnboundService += (name, address) => seen.Enqueue((name, address)));
        try
        {
            if (session.Simulated is { } simulated)
            {
                // Every endpoint it reported but the command endpoint is announced at link-up.
                int expected = simulated.RemoteEndpoints.Keys.Count(k => k != "command");
                if (!HostLink.PollUntil(session.Host, () => seen.Count >= expected, HostLink.StepTimeout, ct))
                    throw new CliFailure($"the simulated remote announced {seen.Count} of {expected} services within {HostLink.StepTimeout.TotalSeconds} s");
            }
            else
            {
                ct.WaitHandle.WaitOne(settle);
                ct.ThrowIfCancellationRequested();
            }
            services = seen.ToArray();
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }
}
