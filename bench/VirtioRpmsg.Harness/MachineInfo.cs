using System.Diagnostics;
using System.Runtime.InteropServices;

namespace VirtioRpmsg.Harness;

/// <summary>What the numbers were measured on.</summary>
/// <param name="CpuModel">lscpu's model name.</param>
/// <param name="LogicalCpus">CPUs this process may use.</param>
/// <param name="Kernel">The kernel release.</param>
/// <param name="Hypervisor">lscpu's hypervisor vendor, if any.</param>
/// <param name="DotnetSdk">`dotnet --version`.</param>
/// <param name="Runtime">The runtime that ran the harness.</param>
/// <param name="LoadAverage">/proc/loadavg's 1, 5 and 15 minute figures when the run started: other work on the machine shows here.</param>
public sealed record MachineInfo(string CpuModel, int LogicalCpus, string Kernel, string Hypervisor, string DotnetSdk, string Runtime, string LoadAverage)
{
    /// <summary>Collects the description of this machine (lscpu, /proc, dotnet --version); never throws.</summary>
    public static MachineInfo Collect()
    {
        string lscpu = RunQuietly("lscpu", "") ?? "";
        string model = LscpuField(lscpu, "Model name") ?? "unknown";
        string hypervisor = LscpuField(lscpu, "Hypervisor vendor") ?? "none reported";
        string kernel = ReadQuietly("/proc/sys/kernel/osrelease") ?? RuntimeInformation.OSDescription;
        string sdk = RunQuietly("dotnet", "--version") ?? "unknown";
        string load = string.Join(' ', (ReadQuietly("/proc/loadavg") ?? "unknown").Split(' ').Take(3));
        return new MachineInfo(model, Environment.ProcessorCount, kernel, hypervisor, sdk, RuntimeInformation.FrameworkDescription, load);
    }

    private static string? LscpuField(string lscpu, string name)
    {
        foreach (string line in lscpu.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon > 0 && line[..colon].Trim() == name)
                return line[(colon + 1)..].Trim();
        }
        return null;
    }

    private static string? ReadQuietly(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string? RunQuietly(string program, string arguments)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(program, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is null)
                return null;
            var output = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                process.Kill(entireProcessTree: true);
                return null;
            }
            return process.ExitCode == 0 ? output.Result.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
