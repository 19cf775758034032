using SharpFuzz;
using VirtioRpmsg.Chaos;

// Usage: VirtioRpmsg.Fuzz <target>           under afl-fuzz (input on stdin, SharpFuzz out-of-process mode)
//        VirtioRpmsg.Fuzz <target> <file>... replays files (a corpus or a crash) without AFL.
// Targets: ResourceTable, Elf, NameService, RpmsgHeader, DescriptorChain.
if (args.Length == 0 || !Enum.TryParse<FuzzTarget>(args[0], ignoreCase: true, out var target))
{
    Console.Error.WriteLine($"usage: VirtioRpmsg.Fuzz <{string.Join("|", Enum.GetNames<FuzzTarget>())}> [files...]");
    return 2;
}
if (args.Length > 1)
{
    int accepted = 0, rejected = 0;
    foreach (var path in args.Skip(1).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p) : [p]))
    {
        if (FuzzTargets.Run(target, File.ReadAllBytes(path)))
            accepted++;
        else
            rejected++;
    }
    Console.WriteLine($"{target}: replayed without a finding ({accepted} accepted, {rejected} rejected)");
    return 0;
}
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    FuzzTargets.Run(target, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
});
return 0;
