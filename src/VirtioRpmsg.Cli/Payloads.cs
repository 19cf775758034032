using System.Text;
using VirtioRpmsg.Platform;

namespace VirtioRpmsg.Cli;

/// <summary>Message payloads on the command line: read from --text/--hex/--file/stdin, printed as text or hex.</summary>
internal static class Payloads
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// The payload from exactly one source: <paramref name="text"/> (UTF-8), <paramref name="hex"/> (pairs of hex
    /// digits, spaces and colons ignored), or <paramref name="file"/> ("-" reads standard input).
    /// </summary>
    public static byte[] Read(string? text, string? hex, string? file, int maxLength)
    {
        int given = (text is null ? 0 : 1) + (hex is null ? 0 : 1) + (file is null ? 0 : 1);
        if (given != 1)
            throw new CliFailure(given == 0 ? "give the payload with --text, --hex or --file (- for stdin)" : "give only one of --text, --hex, --file");
        byte[] payload;
        if (text is not null)
        {
            payload = Encoding.UTF8.GetBytes(text);
        }
        else if (hex is not null)
        {
            payload = ParseHex(hex);
        }
        else if (file == "-")
        {
            using var stdin = Console.OpenStandardInput();
            payload = ReadAtMost(stdin, maxLength, "stdin");
        }
        else
        {
            if (Directory.Exists(file))
                throw new CliFailure($"--file {file}: is a directory, not a file");
            try
            {
                using var stream = File.OpenRead(file!);
                payload = ReadAtMost(stream, maxLength, file!);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliFailure($"--file {file}: {e.Message}");
            }
        }
        if (payload.Length > maxLength)
            throw new CliFailure($"the payload is {payload.Length} bytes; one message holds at most {maxLength}");
        return payload;
    }

    private static byte[] ParseHex(string hex)
    {
        string digits = hex.Replace(" ", "", StringComparison.Ordinal).Replace(":", "", StringComparison.Ordinal);
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            digits = digits[2..];
        int bad = digits.AsSpan().IndexOfAnyExcept("0123456789abcdefABCDEF");
        if (bad >= 0)
            throw new CliFailure($"--hex '{hex}' is not hex: '{digits[bad]}' is not a hex digit (pairs of 0-9, a-f; spaces and colons are ignored)");
        if (digits.Length % 2 != 0)
            throw new CliFailure($"--hex '{hex}' has an odd number of hex digits ({digits.Length}); each byte is two");
        return Convert.FromHexString(digits);
    }

    private static byte[] ReadAtMost(Stream stream, int maxLength, string what)
    {
        // One byte more than fits tells "too long" apart from "exactly full".
        var buffer = new byte[maxLength + 1];
        int total = 0, n;
        while (total < buffer.Length && (n = stream.Read(buffer, total, buffer.Length - total)) > 0)
            total += n;
        if (total > maxLength)
            throw new CliFailure($"{what} holds more than {maxLength} bytes, the most one message carries");
        return buffer[..total];
    }

    /// <summary>The payload as text ("text"), hex ("hex") or whichever fits ("auto": text when printable UTF-8).</summary>
    public static string Format(ReadOnlySpan<byte> payload, string format)
    {
        if (format == "hex")
            return Convert.ToHexString(payload).ToLowerInvariant();
        // The bytes come from the peer: a control character (a line break, a terminal escape) is shown as \uXXXX, so a
        // payload can neither draw a line of its own nor drive the terminal.
        if (format == "text")
            return PrintableText.Of(Encoding.UTF8.GetString(payload));
        string? text = TryPrintable(payload);
        return text is null ? "hex " + Convert.ToHexString(payload).ToLowerInvariant() : '"' + text + '"';
    }

    private static string? TryPrintable(ReadOnlySpan<byte> payload)
    {
        string text;
        try
        {
            text = s_strictUtf8.GetString(payload);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
        foreach (char c in text)
        {
            if (char.IsControl(c) && c is not ('\t' or '\n' or '\r'))
                return null;
        }
        return text.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal);
    }
}
