namespace VirtioRpmsg.Harness;

/// <summary>One point of a percentile curve: <see cref="Percentile"/> percent of samples took at most <see cref="ValueNs"/>.</summary>
public readonly record struct PercentilePoint(double Percentile, long ValueNs);
