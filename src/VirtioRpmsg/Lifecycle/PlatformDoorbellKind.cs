using System.Text.Json.Serialization;

namespace VirtioRpmsg.Lifecycle;

/// <summary>The doorbell used in both directions. JSON: "eventfd", "unixSocket", "uio", "polling".</summary>
[JsonConverter(typeof(JsonCamelCaseEnumConverter<PlatformDoorbellKind>))]
public enum PlatformDoorbellKind
{
    /// <summary>An eventfd pair created by the host and passed to the remote over a descriptor-passing socket.</summary>
    Eventfd,
    /// <summary>A Unix stream socket, one byte per kick (OpenAMP's Linux-userspace machine).</summary>
    UnixSocket,
    /// <summary>UIO interrupt inbound, mailbox register outbound.</summary>
    Uio,
    /// <summary>No doorbell: the waiter polls a predicate the caller supplies.</summary>
    Polling,
}
