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
/// Refusals.cs). Read from the IL: a call to the interpolation handler, string.Format or string.Concat fails, in the
/// method itself or in any method of the library it calls, to any depth, that the JIT may inline.
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
        { typeof(VirtqueueDriver), nameof(VirtqueueDriver.TryAddPooledThenGetUsedOrPublish) },
        { typeof(VirtqueueDevice), nameof(VirtqueueDevice.TryGiveBackAndTake) },
        { typeof(VirtqueueDevice), nameof(VirtqueueDevice.HasAvailableThenPrefetch) },
        { typeof(VirtqueueDriver), nameof(VirtqueueDriver.PeekUsedThenPrefetch) },
        { typeof(DeviceRoleTransport), nameof(DeviceRoleTransport.TryReceive) },
        { typeof(DeviceRoleTransport), nameof(DeviceRoleTransport.TrySendCopy) },
        { typeof(DeviceRoleTransport), nameof(DeviceRoleTransport.ReturnRx) },
        { typeof(DeviceRoleTransport), "TakeRequest" },
        { typeof(DeviceRoleTransport), "TryTakeTx" },
        { typeof(DeviceRoleTransport), "ReserveNextReplyBuffer" },
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
        { typeof(RpmsgTxPath), nameof(RpmsgTxPath.TryCopy) },
        { typeof(RpmsgAddress), nameof(RpmsgAddress.CheckSendable) },
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
            var builders = Reachable(method).SelectMany(m => Callees(m).Where(BuildsAString).Select(c => $"{m.DeclaringType?.Name}.{m.Name} calls {c.DeclaringType?.Name}.{c.Name}")).ToArray();
            Assert.True(builders.Length == 0, $"{type.Name}.{name}: {string.Join("; ", builders)}; word the message in an out-of-line helper");
        }
    }

    [Fact]
    public void TheCheck_FindsAMessageTwoCallsDown()
    {
        var method = typeof(HotPathMessageBuildingTests).GetMethod(nameof(CallsACallerOfInterpolating), Declared)!;
        Assert.Contains(Reachable(method), m => Callees(m).Any(BuildsAString));
    }

    [Fact]
    public void TheCheck_StopsAtAnOutOfLineHelper()
    {
        var method = typeof(HotPathMessageBuildingTests).GetMethod(nameof(CallsAnOutOfLineHelper), Declared)!;
        Assert.DoesNotContain(Reachable(method), m => Callees(m).Any(BuildsAString));
    }

    [Fact]
    public void TheWalk_ReachesTheSmallMethodsATakeCalls()
    {
        var take = typeof(VirtqueueDevice).GetMethod(nameof(VirtqueueDevice.TryTakeAvailable), Declared)!;
        var reached = Reachable(take).ToArray();
        Assert.True(reached.Length > 5, $"the walk from TryTakeAvailable reached only {reached.Length} methods");
        Assert.All(reached.Skip(1), m => Assert.True(MayBeInlined(m)));
    }

    private static int CallsACallerOfInterpolating(int head) => CallsInterpolating(head + 1).Length;

    private static string CallsInterpolating(int head) => InterpolatingInline(head);

    private static string InterpolatingInline(int head) => $"head {head} is not taken";

    private static int CallsAnOutOfLineHelper(int head) => Interpolating(head).Length;

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

    // The method and every method of this library it calls, to any depth, that the JIT may inline into it. The walk
    // follows what the JIT's rules allow: a callee with a body, not marked NoInlining, that returns (a throw helper
    // never is inlined), and AggressiveInlining or at most MaxInlineSize bytes of IL (the JIT's limit otherwise).
    // Constructors are not followed: the ones these paths call are exceptions' in throw blocks, which the JIT keeps
    // out of line (following them flags LeaseHeldException's, never inlined there).
    private static IEnumerable<MethodInfo> Reachable(MethodInfo root)
    {
        var seen = new HashSet<MethodInfo> { root };
        var pending = new Queue<MethodInfo>(seen);
        while (pending.TryDequeue(out var method))
        {
            yield return method;
            foreach (var callee in Callees(method).OfType<MethodInfo>())
            {
                if (callee.Module == method.Module && MayBeInlined(callee) && seen.Add(callee))
                    pending.Enqueue(callee);
            }
        }
    }

    private const int MaxInlineSize = 100;

    private static bool MayBeInlined(MethodInfo method)
    {
        var flags = method.MethodImplementationFlags;
        if ((flags & MethodImplAttributes.NoInlining) != 0 || method.GetMethodBody()?.GetILAsByteArray() is not { } il)
            return false;
        return ((flags & MethodImplAttributes.AggressiveInlining) != 0 || il.Length <= MaxInlineSize) && Opcodes(il).Contains(OpCodes.Ret);
    }

    // Every method the IL calls (call, callvirt, newobj).
    private static IEnumerable<MethodBase> Callees(MethodInfo method)
    {
        byte[] il = method.GetMethodBody()!.GetILAsByteArray()!;
        var typeArguments = method.DeclaringType?.GetGenericArguments();
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        foreach (var (op, operand) in Operations(il))
        {
            if (op.OperandType == OperandType.InlineMethod)
                yield return method.Module.ResolveMethod(BitConverter.ToInt32(il, operand), typeArguments, methodArguments)!;
        }
    }

    private static IEnumerable<OpCode> Opcodes(byte[] il) => Operations(il).Select(o => o.Op);

    // The IL decoded opcode by opcode: each opcode and the offset of its operand.
    private static IEnumerable<(OpCode Op, int Operand)> Operations(byte[] il)
    {
        for (int i = 0; i < il.Length;)
        {
            var op = il[i] == 0xFE ? s_twoByte[il[i + 1]] : s_oneByte[il[i]];
            i += op.Size;
            yield return (op, i);
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
