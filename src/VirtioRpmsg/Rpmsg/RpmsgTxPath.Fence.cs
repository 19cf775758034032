namespace VirtioRpmsg.Rpmsg;

// An endpoint's destroy against its own sends: a send looks at its endpoint under the tx gate, with the take
// (TryCopy), and the destroy passes through that gate once between its flag and the address becoming free.
internal sealed partial class RpmsgTxPath
{
    /// <summary>
    /// An endpoint's destroy, after its flag and before its address is free again: a copy send of it that found it alive
    /// under the tx gate has published its message when this returns, and every later try sees it destroyed. Moot once
    /// the device stopped (Stop drains every send).
    /// </summary>
    internal void Fence()
    {
        if (!_gate.TryEnter(out var transport))
            return;
        try
        {
            transport.FenceTx();
        }
        finally
        {
            _gate.Exit();
        }
    }
}
