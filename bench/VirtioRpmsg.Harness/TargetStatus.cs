namespace VirtioRpmsg.Harness;

/// <summary>Outcome of one target check.</summary>
public enum TargetStatus
{
    /// <summary>The measured figure meets the target.</summary>
    Met,
    /// <summary>The measured figure misses the target.</summary>
    Missed,
    /// <summary>The run did not include the case the target is about.</summary>
    NotMeasured,
}
