using System.CommandLine;

namespace VirtioRpmsg.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("rpmsg: a userspace virtio-rpmsg stack; talk to a remote processor over shared memory.");
        var demo = new Command("demo", "Run the demo against a simulated remote in another process.");
        demo.SetAction(_ => Demo.Run());
        root.Subcommands.Add(demo);
        return root.Parse(args).Invoke();
    }
}
