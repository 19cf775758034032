using System.Globalization;
using VirtioRpmsg.Chaos;

// Long chaos run: dotnet run -c Release --project tests/VirtioRpmsg.Chaos -- --minutes 60 [--seed N] [--seeds N] [--fault NAME]
// Exit code 0 when every seed of every class held its invariants, 1 otherwise (failures are printed with their seed).
double minutes = 1;
int firstSeed = 1;
long seeds = long.MaxValue;
var faults = Enum.GetValues<ChaosFault>().ToList();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--minutes":
            minutes = double.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--seed":
            firstSeed = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--seeds":
            seeds = long.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--fault":
            faults = [Enum.Parse<ChaosFault>(args[++i], ignoreCase: true)];
            break;
        default:
            Console.Error.WriteLine($"unknown argument '{args[i]}'; use --minutes M --seed N --seeds N --fault NAME");
            return 2;
    }
}

Console.WriteLine($"chaos: {faults.Count} fault classes, seeds from {firstSeed}, budget {minutes} min, {Environment.ProcessorCount} cpus, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");
var summary = ChaosRunner.Run(faults, firstSeed, seeds, TimeSpan.FromMinutes(minutes), failure => Console.WriteLine(failure));
Console.WriteLine($"chaos: {summary.Runs} runs in {summary.Elapsed.TotalMinutes:F1} min, {summary.Failures.Count} failed");
foreach (var (fault, count) in summary.PerFault)
    Console.WriteLine($"  {fault,-28} {count,8} seeds");
return summary.Failures.Count == 0 ? 0 : 1;
