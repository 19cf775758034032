namespace VirtioRpmsg.Harness;

/// <summary>Everything one scenario measured in a report run.</summary>
public sealed record ScenarioResults(string Scenario, string Description, IReadOnlyList<EchoResult> Echo, IReadOnlyList<StreamResult> Stream);
