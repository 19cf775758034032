using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Virtio;

namespace VirtioRpmsg.Tests.Rpmsg;

/// <summary>
/// The methods every message passes through build no strings: an interpolated message inside one (even on a path that
/// never runs) is inlined by the JIT with its handler, whose locals the method then zeroes on every call. That cost
/// TryTakeAvailable a 1.2 KB frame per take until the nineteenth round of issue 15 (docs/benchmarks-notes.md). Their
/// refusals call out-of-line helpers (VirtqueueDevice.Faults.cs, RpmsgRxDispatcher.Drops.cs, the transports'
/// Refusals.cs). Read from the IL: a call to the interpolation handler, string.Format or string.Concat fails.
/// </summary>
public class HotPathMessageBuildingTests
{
    private const BindingFlags Declared = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;

    public static TheoryData<Type, string> PerMessageMethods() => new()
    {
        { typeof(VirtqueueDevice), nameof(VirtqueueDevice.TryTakeAvailable) },
        { typeof(VirtqueueDevice), nameof(VirtqueueDevice.PushUsedAndNotifyPrepare) },
        { typeof(VirtqueueDevice), nameof(VirtqueueDevice.PushUsedDeferred) },
        { typeof(VirtqueueDevice), nameof(VirtqueueDevice.NotifyPrepare) },
        { typeof(VirtqueueDriver), "TakeUsed" },
        { typeof(VirtqueueDriver), "AddPooled" },
        { typeof(VirtqueueDriver), nameof(VirtqueueDriver.TryGetUsedOrPublish) },
        { typeof(VirtqueueDriver), nameof(VirtqueueDriver.TryAddPooledAndPublish) },
        { typeof(DriverRoleTransport), nameof(DriverRoleTransport.TryReceive) },
        { typeof(DriverRoleTransport), nameof(DriverRoleTransport.TrySendCopy) },
        { typeof(DriverRoleTransport), nameof(DriverRoleTransport.SubmitTx) },
        { typeof(DriverRoleTransport), nameof(DriverRoleTransport.ReturnRx) },
        { typeof(DriverRoleTransport), "AddAndPublish" },
        { typeof(DriverRoleTransport), "Repost" },
        { typeof(DeviceRoleTransport), nameof(DeviceRoleTransport.TryReceive) },
        { typeof(DeviceRoleTransport), nameof(DeviceRoleTransport.TrySendCopy) },
        { typeof(DeviceRoleTransport), nameof(DeviceRoleTransport.ReturnRx) },
        { typeof(DeviceRoleTransport), "TakeRequest" },
        { typeof(DeviceRoleTransport), "TryTakeTx" },
        { typeof(RpmsgRxDispatcher), "TakeBatch" },
        { typeof(RpmsgRxDispatcher), "HandleReceived" },
        { typeof(RpmsgRxDispatcher), "DeliverBacklog" },
        { typeof(RpmsgRxDispatcher), "Deliver" },
        { typeof(RpmsgRxDispatcher), "DeliverZeroCopy" },
        { typeof(RpmsgRxDispatcher), "Release" },
        { typeof(RpmsgRxDispatcher), "ReceiveNext" },
        { typeof(RpmsgRxDispatcher), "Flush" },
        { typeof(RpmsgRxDispatcher), nameof(RpmsgRxDispatcher.ParkPending) },
        { typeof(DeviceRoleTransport), nameof(DeviceRoleTransport.SubmitTx) },
        { typeof(DeviceRoleTransport), "RxLength" },
        { typeof(RpmsgEndpoint), nameof(RpmsgEndpoint.Deliver) },
        { typeof(RpmsgEndpoint), nameof(RpmsgEndpoint.Receive) },
        { typeof(RpmsgEndpoint), nameof(RpmsgEndpoint.TryReceive) },
        { typeof(RpmsgEndpoint), "TryTakeQueued" },
        { typeof(RpmsgEndpoint), "QueueOrThrow" },
        { typeof(RpmsgEndpoint), "ThrowIfDestroyed" },
        { typeof(RpmsgEndpoint), nameof(RpmsgEndpoint.RemoteAddressOrThrow) },
        { typeof(RpmsgEndpointQueue), "TryDequeueLocked" },
        { typeof(RpmsgEndpointQueue), nameof(RpmsgEndpointQueue.TryEnqueue) },
        { typeof(RpmsgTxPath), nameof(RpmsgTxPath.TrySend) },
        { typeof(RpmsgTxPath), nameof(RpmsgTxPath.Send) },
        { typeof(RpmsgTxPath), nameof(RpmsgTxPath.SendAsync) },
        { typeof(RpmsgTxPath), nameof(RpmsgTxPath.Acquire) },
        { typeof(RpmsgEndpoint), nameof(RpmsgEndpoint.Send) },
        { typeof(RpmsgEndpoint), nameof(RpmsgEndpoint.SendTo) },
        { typeof(RpmsgEndpoint), nameof(RpmsgEndpoint.SendOffChannel) },
        { typeof(RpmsgEndpoint), nameof(RpmsgEndpoint.SendAsync) },
        { typeof(RpmsgEndpoint), nameof(RpmsgEndpoint.SendToAsync) },
        { typeof(RpmsgEndpoint), nameof(RpmsgEndpoint.GetTxBuffer) },
        { typeof(RpmsgPipeWriter), nameof(RpmsgPipeWriter.Advance) },
        { typeof(RpmsgHeader), nameof(RpmsgHeader.Read) },
        { typeof(RpmsgHeader), nameof(RpmsgHeader.Write) },
    };

    [Theory]
    [MemberData(nameof(PerMessageMethods))]
    public void PerMessageMethod_BuildsNoStrings(Type type, string name)
    {
        var methods = type.GetMethods(Declared).Where(m => m.Name == name).ToArray();
        Assert.NotEmpty(methods);
        foreach (var method in methods)
        {
            var builders = Callees(method).Where(BuildsAString).Select(c => $"{c.DeclaringType?.Name}.{c.Name}").ToArray();
            Assert.True(builders.Length == 0, $"{type.Name}.{name} calls {string.Join(", ", builders)}; word the message in an out-of-line helper");
        }
    }

    [Fact]
    public void TheCheck_FindsAnInterpolatedMessage()
    {
        var method = typeof(HotPathMessageBuildingTests).GetMethod(nameof(Interpolating), Declared)!;
        Assert.Contains(Callees(method), BuildsAString);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string Interpolating(int head) => $"head {head} is not taken";

    private static bool BuildsAString(MethodBase callee) =>
        callee.DeclaringType == typeof(DefaultInterpolatedStringHandler) ||
        (callee.DeclaringType == typeof(string) && callee.Name is nameof(string.Format) or nameof(string.Concat));

    // Every method the IL calls (call, callvirt, newobj), decoded opcode by opcode.
    private static IEnumerable<MethodBase> Callees(MethodInfo method)
    {
        byte[] il = method.GetMethodBody()!.GetILAsByteArray()!;
        for (int i = 0; i < il.Length;)
        {
            var op = il[i] == 0xFE ? s_twoByte[il[i + 1]] : s_oneByte[il[i]];
            i += op.Size;
            if (op.OperandType == OperandType.InlineMethod)
                yield return method.Module.ResolveMethod(BitConverter.ToInt32(il, i), method.DeclaringType?.GetGenericArguments(), null)!;
            i += op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
        }
    }

    private static readonly OpCode[] s_oneByte = new OpCode[256];
    private static readonly OpCode[] s_twoByte = new OpCode[256];

    static HotPathMessageBuildingTests()
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)field.GetValue(null)!;
            if (op.Size == 1)
                s_oneByte[(ushort)op.Value] = op;
            else
                s_twoByte[(ushort)op.Value & 0xFF] = op;
        }
    }
}
