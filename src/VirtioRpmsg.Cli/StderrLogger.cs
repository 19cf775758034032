using Microsoft.Extensions.Logging;

namespace VirtioRpmsg.Cli;

/// <summary>A minimal logger for --verbose: one line per entry on stderr.</summary>
internal sealed class StderrLogger : ILogger
{
    private readonly string _category;

    public StderrLogger(string category) => _category = category;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
            return;
        Console.Error.WriteLine($"[{_category} {logLevel}] {formatter(state, exception)}{(exception is null ? "" : " (" + exception.Message + ")")}");
    }
}
