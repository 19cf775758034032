using VirtioRpmsg.Rpmsg;

namespace VirtioRpmsg.Harness;

/// <summary>The checks echo and stream requests share.</summary>
internal static class RequestValidation
{
    /// <summary>Payload 1..496 bytes, count at least 1, a dispatcher wait strategy; <paramref name="kind"/> names the request in the message.</summary>
    public static void PayloadCountAndWait(string kind, int payloadSize, int count, RpmsgWaitStrategy wait)
    {
        if (payloadSize < 1 || payloadSize > 496)
            throw new ArgumentOutOfRangeException("PayloadSize", payloadSize, $"{kind} payload size must be 1..496 bytes");
        if (count < 1)
            throw new ArgumentOutOfRangeException("Count", count, $"{kind} count must be at least 1");
        if (wait == RpmsgWaitStrategy.CallerPoll)
            throw new ArgumentOutOfRangeException("Wait", wait, $"{kind} scenarios measure the dispatcher wait strategies (interrupt, busy-poll, hybrid)");
    }
}
