using System.Diagnostics;
using System.Runtime.InteropServices;
using VirtioRpmsg.Lifecycle;
using VirtioRpmsg.Platform;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;
using VirtioRpmsg.Tests.Rpmsg;

namespace VirtioRpmsg.Tests.Cli;

/// <summary>
/// Every exit path of a standalone <c>rpmsg remote</c>: SIGTERM, the host's NS destroy of every echo name,
/// the host going away (--no-stdin; Unix-socket doorbell, or the eventfd pair's descriptor-passing connection);
/// each removes the shared-memory file (and socket) it created.
/// </summary>
public sealed class RemoteLifetimeCliTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);
    private readonly string _shm = $"/dev/shm/vrpmsg-test-rlife-{Guid.NewGuid():N}.shm";
    private readonly string _socket = $"/tmp/vrpmsg-test-rlife-{Guid.NewGuid():N}.sock";
    private readonly string _json = Path.Combine(Path.GetTempPath(), $"vrpmsg-test-rlife-{Guid.NewGuid():N}.json");

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [Fact]
    public void Sigterm_ExitsInterruptedAndRemovesTheFileItCreated()
    {
        using var remote = CrossProcessCli.Start("remote", "--shm", _shm, "--no-stdin");
        remote.WaitForOutput("waiting for a host", Limit);
        Assert.True(File.Exists(_shm));

        Assert.Equal(0, kill(remote.Process.Id, 15));

        Assert.Equal(130, remote.WaitForExit(Limit));
        Assert.False(File.Exists(_shm));
    }

    [Fact]
    public void HostDestroysEveryEchoName_RemoteExitsAndCleansUp()
    {
        using var remote = CrossProcessCli.Start("remote", "--shm", _shm, "--echo", "svc-a", "--echo", "svc-b", "--no-stdin");
        remote.WaitForOutput("waiting for a host", Limit);
        using (var host = Host(SimulatedPlatform.Description(_shm), out var channels))
        {
            Assert.True(channels.Wait("svc-a") && channels.Wait("svc-b"), "both names announced");
            using (host.CreateNamedEndpoint("svc-a"))
            {
            }
            Assert.False(remote.Process.WaitForExit(200), "one name left: the remote keeps serving");
            using (host.CreateNamedEndpoint("svc-b"))
            {
            }
            Assert.Equal(0, remote.WaitForExit(Limit));
        }
        Assert.False(File.Exists(_shm));
    }

    [Fact]
    public void NoStdin_HostGoesAway_RemoteExitsAndCleansUp()
    {
        var openAmp = PlatformDescription.OpenAmpLinux(PlatformRole.Remote);
        var remoteDescription = openAmp with
        {
            Regions = [openAmp.Regions[0] with { Path = _shm }],
            Doorbell = openAmp.Doorbell with { Path = _socket },
        };
        File.WriteAllText(_json, remoteDescription.ToJson());
        using var remote = CrossProcessCli.Start("remote", "--platform", _json, "--no-stdin");
        // The file exists once the remote says it waits: the host must not create it first.
        remote.WaitForOutput("waiting for a host", Limit);
        var hostDescription = remoteDescription with { Role = PlatformRole.Host, Doorbell = remoteDescription.Doorbell with { Mode = DoorbellSocketMode.Client } };
        using (var host = Host(hostDescription, out var channels))
        {
            Assert.True(channels.Wait(SimulatedRemote.EchoServiceName));
        }
        // The host's doorbell socket closed: the remote's device breaks and the remote exits.
        Assert.Equal(0, remote.WaitForExit(Limit));
        Assert.False(File.Exists(_shm));
        Assert.False(File.Exists(_socket));
    }

    [Fact]
    public void NoStdin_EventfdHostProcessKilled_RemoteExitsAndCleansUp()
    {
        using var remote = CrossProcessCli.Start("remote", "--shm", _shm, "--no-stdin");
        remote.WaitForOutput("waiting for a host", Limit);
        File.WriteAllText(_json, SimulatedPlatform.Description(_shm).ToJson());
        using (var host = CrossProcessCli.Start("listen", "--platform", _json))
        {
            host.WaitForOutput("listening on", Limit);
            remote.WaitForOutput("READY", Limit);
            Assert.False(remote.Process.HasExited, $"the remote exited while its host was alive\nstdout: {remote.Stdout}\nstderr: {remote.Stderr}");

            // SIGKILL: the host cleans nothing up; only the kernel closing its descriptors tells the remote.
            Assert.Equal(0, kill(host.Process.Id, 9));
            host.WaitForExit(Limit);
        }

        int exit = remote.WaitForExit(Limit);
        Assert.True(exit == 0, $"exit {exit}\nstdout: {remote.Stdout}\nstderr: {remote.Stderr}");
        Assert.False(File.Exists(_shm), "the remote left the file it created");
    }

    private sealed class Announced
    {
        private readonly HashSet<string> _names = [];
        public void Add(string name)
        {
            lock (_names)
            {
                _names.Add(name);
                Monitor.PulseAll(_names);
            }
        }

        public bool Wait(string name)
        {
            var deadline = Deadline.Within(Limit);
            lock (_names)
            {
                while (!_names.Contains(name))
                {
                    if (deadline.IsExpired)
                        return false;
                    Monitor.Wait(_names, deadline.Remaining);
                }
                return true;
            }
        }
    }

    /// <summary>A host device over <paramref name="description"/>, connected within the limit; disposing it disposes everything it opened.</summary>
    private static HostRig Host(PlatformDescription description, out Announced announced)
    {
        var resources = PlatformResources.Open(description, new PlatformOpenOptions { ReadResourceTable = false });
        var doorbell = resources.CreateDoorbell(new PlatformDoorbellOptions { Timeout = Limit });
        resources.LoadResourceTable();
        var device = RpmsgDevice.CreateHost(resources.CreateRpmsgLayout(), resources.CreateVdevControl(), doorbell, new RpmsgDeviceOptions { SendTimeout = Limit });
        var names = new Announced();
        device.UnboundService += (name, _) => names.Add(name);
        device.Start();
        announced = names;
        return new HostRig(resources, doorbell, device);
    }

    private sealed class HostRig(PlatformResources resources, IDoorbell doorbell, RpmsgDevice device) : IDisposable
    {
        public RpmsgEndpoint CreateNamedEndpoint(string name) => device.CreateNamedEndpoint(name, RpmsgAddress.Any, (_, _, _) => { });

        public void Dispose()
        {
            device.Dispose();
            doorbell.Dispose();
            resources.Dispose();
        }
    }

    public void Dispose()
    {
        File.Delete(_shm);
        File.Delete(_socket);
        File.Delete(_json);
    }
}
