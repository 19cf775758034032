namespace VirtioRpmsg.Harness;

/// <summary>
/// The scenarios a report runs, by name, in registration order. <see cref="CreateDefault"/> holds the
/// in-process scenario; a two-process scenario is added with one <see cref="Register"/> call.
/// </summary>
public sealed class ScenarioRegistry
{
    private readonly List<(string Name, Func<ScenarioContext, IEchoScenario> Factory)> _entries = [];

    /// <summary>A registry with <see cref="InProcessEchoScenario"/> ("in-process").</summary>
    public static ScenarioRegistry CreateDefault() =>
        new ScenarioRegistry().Register(InProcessEchoScenario.ScenarioName, context => new InProcessEchoScenario(context.HostCpu, context.RemoteCpu));

    /// <summary>Registered names, in order.</summary>
    public IReadOnlyList<string> Names => _entries.Select(e => e.Name).ToArray();

    /// <summary>Adds (or replaces) the scenario called <paramref name="name"/>.</summary>
    public ScenarioRegistry Register(string name, Func<ScenarioContext, IEchoScenario> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        int index = _entries.FindIndex(e => e.Name == name);
        if (index >= 0)
            _entries[index] = (name, factory);
        else
            _entries.Add((name, factory));
        return this;
    }

    /// <summary>Creates the scenario called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No scenario has that name (the message lists the known ones).</exception>
    public IEchoScenario Create(string name, ScenarioContext context)
    {
        foreach (var entry in _entries)
        {
            if (entry.Name == name)
                return entry.Factory(context);
        }
        throw new ArgumentException($"no benchmark scenario '{name}'; known: {string.Join(", ", Names)}", nameof(name));
    }
}
