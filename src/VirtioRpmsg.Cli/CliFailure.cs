namespace VirtioRpmsg.Cli;

/// <summary>An expected failure: printed as one line (no stack trace), exit code 1.</summary>
internal sealed class CliFailure : Exception
{
    public CliFailure(string message) : base(message)
    {
    }
}
