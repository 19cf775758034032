using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace VirtioRpmsg.Chaos;

/// <summary>Keeps every warning and error a device logs, so a run or a test can check a fault was logged with its field and value.</summary>
public sealed class ChaosLog : ILogger
{
    private readonly ConcurrentQueue<string> _entries = new();

    public IReadOnlyCollection<string> Entries => _entries;

    public bool Contains(string text) => _entries.Any(e => e.Contains(text, StringComparison.Ordinal));

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel) && _entries.Count < 10_000)
            _entries.Enqueue(formatter(state, exception));
    }
}
