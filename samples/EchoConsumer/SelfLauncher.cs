using System.Diagnostics;

/// <summary>Start info that runs this program again with <c>--remote</c> and the remote's arguments.</summary>
internal static class SelfLauncher
{
    public static ProcessStartInfo StartInfo(IReadOnlyList<string> remoteArguments)
    {
        string? current = Environment.ProcessPath;
        ProcessStartInfo psi;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            // Run as `dotnet EchoConsumer.dll`: start the same way.
            psi = new ProcessStartInfo(current);
            psi.ArgumentList.Add(typeof(SelfLauncher).Assembly.Location);
        }
        else
        {
            psi = new ProcessStartInfo(current ?? throw new InvalidOperationException("the path of this program is unknown"));
        }
        psi.ArgumentList.Add("--remote");
        foreach (string a in remoteArguments)
            psi.ArgumentList.Add(a);
        return psi;
    }
}
