using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text;
using VirtioRpmsg.Rpmsg;
using VirtioRpmsg.Simulation;

namespace VirtioRpmsg.Cli;

/// <summary>Options several subcommands share (each call makes a new instance: an option belongs to one command).</summary>
internal static class CliOptions
{
    /// <summary>
    /// The value of an option for its validator; false when the token does not convert to <typeparamref name="T"/>
    /// ("--count abc"): the parser reports that itself, one line and exit 2, once the validators have run. Reading
    /// such a value throws InvalidOperationException out of Parse, which Main does not catch (a stack trace and SIGABRT).
    /// </summary>
    public static bool TryGetValue<T>(OptionResult result, out T value)
    {
        try
        {
            value = result.GetValueOrDefault<T>();
            return true;
        }
        catch (InvalidOperationException)
        {
            value = default!;
            return false;
        }
    }

    /// <summary>Adds a range check to a typed option's validators that runs only when the token converted.</summary>
    public static void Check<T>(Option<T> option, Func<T, string?> error) => option.Validators.Add(r =>
    {
        if (TryGetValue(r, out T value) && error(value) is { } message)
            r.AddError(message);
    });

    public static Option<bool> Verbose() => new("--verbose", "-v") { Description = "Log details, and print the stack trace of a failure." };

    public static Option<FileInfo?> Platform() => new("--platform")
    {
        Description = "Platform description (JSON, see docs/platform-description.md) of a real setup, instead of the simulated remote.",
        HelpName = "FILE",
    };

    public static Option<string> Wait()
    {
        var option = new Option<string>("--wait")
        {
            Description = "How the receive side waits: interrupt (block on the doorbell), poll (busy-poll), hybrid (spin, then block).",
            DefaultValueFactory = _ => "interrupt",
            HelpName = "interrupt|poll|hybrid",
        };
        option.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string>();
            if (value is not ("interrupt" or "poll" or "hybrid"))
                r.AddError($"--wait must be interrupt, poll or hybrid, not '{value}'");
        });
        return option;
    }

    /// <summary><c>--cpus HOST,REMOTE</c>: where the host's threads and the simulated remote run (null: unpinned).</summary>
    public static Option<string?> Cpus()
    {
        var option = new Option<string?>("--cpus")
        {
            Description = "Pin the host side (this thread and the dispatcher) to CPU HOST and the simulated remote to CPU REMOTE, as 'rpmsg bench' and the C baseline do; e.g. 0,1. Default: the scheduler places them.",
            HelpName = "HOST,REMOTE",
        };
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } value && ParseCpus(value) is null)
                r.AddError($"--cpus must be two CPU numbers HOST,REMOTE (for example 0,1), not '{value}'");
        });
        return option;
    }

    /// <summary>The two CPUs of a valid <c>--cpus</c> value, or null.</summary>
    public static (int Host, int Remote)? ParseCpus(string? value)
    {
        var parts = value?.Split(',');
        if (parts is not { Length: 2 }
            || !int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int host)
            || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int remote))
            return null;
        return (host, remote);
    }

    public static Option<int> Count(int defaultValue, string description)
    {
        var option = new Option<int>("--count", "-n") { Description = description, DefaultValueFactory = _ => defaultValue, HelpName = "N" };
        Check(option, value => value < 1 ? $"--count must be at least 1, not {value}" : null);
        return option;
    }

    public static Option<int> Size()
    {
        var option = new Option<int>("--size", "-s")
        {
            Description = "Payload bytes per message: 0 to the buffer size minus the 16-byte header (496 with the default buffers).",
            DefaultValueFactory = _ => 64,
            HelpName = "BYTES",
        };
        Check(option, value => value < 0 ? $"--size must not be negative, not {value}" : null);
        return option;
    }

    /// <summary>Fails when <paramref name="size"/> does not fit in one message of <paramref name="device"/>.</summary>
    public static void CheckSize(int size, RpmsgDevice device)
    {
        if (size > device.MaxPayload)
            throw new CliFailure($"--size {size} exceeds the largest payload of one message ({device.MaxPayload} bytes)");
    }

    public static Option<string> Service(string description)
    {
        var option = new Option<string>("--service")
        {
            Description = description,
            DefaultValueFactory = _ => "rpmsg-echo",
            HelpName = "NAME",
        };
        ValidateServiceName(option);
        return option;
    }

    /// <summary>
    /// Refuses, at parse time (exit 2), a name the name service cannot carry: otherwise the library refuses it only
    /// after the remote was started, as a failure (exit 1).
    /// </summary>
    public static void ValidateServiceName(Option option) => option.Validators.Add(r =>
    {
        if (r.GetValueOrDefault<string?>() is { } value && ServiceNameError(value) is { } why)
            r.AddError($"{option.Name} must be a service name of {why}, not '{value.Replace("\0", "\\0", StringComparison.Ordinal)}'");
    });

    // The rule of NameServiceMessage.ValidateName, as a sentence for the option's error.
    internal static string? ServiceNameError(string name)
    {
        int bytes = Encoding.UTF8.GetByteCount(name);
        return bytes is 0 or > NameServiceMessage.MaxNameLength || name.Contains('\0')
            ? $"1 to {NameServiceMessage.MaxNameLength} UTF-8 bytes without NUL (this one has {bytes})"
            : null;
    }

    /// <summary>An rpmsg address option: decimal or 0x-prefixed hex; neither 0xFFFFFFFF (any) nor 0x35 (the name service).</summary>
    public static Option<string?> Address(string name, string description)
    {
        var option = new Option<string?>(name) { Description = description, HelpName = "ADDR" };
        option.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string?>();
            if (value is null)
                return;
            if (!TryParseAddress(value, out uint address))
                r.AddError($"{name} must be an address (decimal or 0x-prefixed hex, below 0xFFFFFFFF), not '{value}'");
            // The host's name-service endpoint owns 53 (listen could not create it), and raw bytes sent to the remote's
            // would be read as announcements: refused here rather than after the remote started.
            else if (address == RpmsgAddress.NameService)
                r.AddError($"{name} must not be the name-service address 0x35 (53), which the name service itself uses; not '{value}'");
        });
        return option;
    }

    public static bool TryParseAddress(string text, out uint address)
    {
        bool ok = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? uint.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out address)
            : uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out address);
        return ok && address != RpmsgAddress.Any;
    }

    /// <summary>How long to wait for announcements from a real remote (list, dump).</summary>
    public static Option<double> Settle()
    {
        var option = new Option<double>("--settle")
        {
            Description = "With --platform: seconds to wait for announcements after the link is up.",
            DefaultValueFactory = _ => 1,
            HelpName = "S",
        };
        // Written so NaN fails too (every comparison with it is false).
        Check(option, value => !(value >= 0 && value <= 600) ? $"--settle must be 0 to 600 seconds, not {value}" : null);
        return option;
    }

    /// <summary>How received payloads are printed.</summary>
    public static Option<string> Format()
    {
        var option = new Option<string>("--format")
        {
            Description = "How to print received payloads: text, hex, or auto (text when it is printable UTF-8, else hex).",
            DefaultValueFactory = _ => "auto",
            HelpName = "auto|text|hex",
        };
        option.Validators.Add(r =>
        {
            string? value = r.GetValueOrDefault<string>();
            if (value is not ("auto" or "text" or "hex"))
                r.AddError($"--format must be auto, text or hex, not '{value}'");
        });
        return option;
    }

    // One spelling for the tool and the simulated remote's command line (which the tool hosts).
    public static RpmsgWaitStrategy ParseWait(string? value) =>
        value is null ? RpmsgWaitStrategy.Interrupt : SimulatedRemoteChild.ParseWait(value);
}
