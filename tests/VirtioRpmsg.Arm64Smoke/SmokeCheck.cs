namespace VirtioRpmsg.Arm64Smoke;

/// <summary>
/// One named check. It passes when <see cref="Body"/> returns without throwing; a failed
/// expectation throws <see cref="SmokeFailure"/> with the reason.
/// </summary>
public sealed record SmokeCheck(string Name, Action Body);
