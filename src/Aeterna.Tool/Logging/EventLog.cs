using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Aeterna.Tool.Configuration;
using Aeterna.Interop;

namespace Aeterna.Tool.Logging;

/// <summary>
/// The supervisor's own events: one line each on stderr, as text or JSON (observability.log_format).
/// Children's output does not pass through here: they write to the same stdout/stderr directly.
/// </summary>
/// <remarks>
/// Writes to fd 2 with write(2), not System.Console: Console's terminal handling installs a
/// SIGCHLD handler that makes the runtime reap our children when we are PID 1 (see ChildReaper).
/// Not FileStream either: it writes regular files at its own offset and would overwrite what the
/// children write to the same stderr.
/// </remarks>
internal sealed class EventLog
{
    private readonly LogFormat _format;
    private readonly LogLevel _minimum;
    private readonly Stream? _out;
    private readonly ArrayBufferWriter<byte> _line = new(512);
    private readonly Lock _gate = new();
    private readonly string _pid = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);

    public EventLog(LogFormat format, LogLevel minimum, Stream? output = null)
    {
        _format = format;
        _minimum = minimum;
        _out = output;
    }

    public void Debug(string evt, string message, params ReadOnlySpan<(string Key, object? Value)> fields) => Write(LogLevel.Debug, evt, message, fields);

    public void Info(string evt, string message, params ReadOnlySpan<(string Key, object? Value)> fields) => Write(LogLevel.Info, evt, message, fields);

    public void Warn(string evt, string message, params ReadOnlySpan<(string Key, object? Value)> fields) => Write(LogLevel.Warn, evt, message, fields);

    public void Error(string evt, string message, params ReadOnlySpan<(string Key, object? Value)> fields) => Write(LogLevel.Error, evt, message, fields);

    public void Write(LogLevel level, string evt, string message, ReadOnlySpan<(string Key, object? Value)> fields)
    {
        if (level < _minimum) return;
        string time = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        string levelName = level.ToString().ToLowerInvariant();
        lock (_gate)
        {
            _line.ResetWrittenCount();
            if (_format == LogFormat.Json)
            {
                using (var json = new Utf8JsonWriter(_line))
                {
                    json.WriteStartObject();
                    json.WriteString("time", time);
                    json.WriteString("level", levelName);
                    json.WriteString("event", evt);
                    json.WriteString("msg", message);
                    foreach (var (key, value) in fields)
                        WriteField(json, key, value);
                    json.WriteEndObject();
                }
                _line.Write("\n"u8);
            }
            else
            {
                Encoding.UTF8.GetBytes($"{time} aeterna[{_pid}] {levelName}: {message}\n", _line);
            }
            if (_out is null) Libc.WriteAll(2, _line.WrittenSpan); // if stderr is closed there is nothing better to do than carry on
            else _out.Write(_line.WrittenSpan);
        }
    }

    private static void WriteField(Utf8JsonWriter json, string key, object? value)
    {
        switch (value)
        {
            case null: json.WriteNull(key); break;
            case int i: json.WriteNumber(key, i); break;
            case long l: json.WriteNumber(key, l); break;
            case double d: json.WriteNumber(key, Math.Round(d, 3)); break;
            case bool b: json.WriteBoolean(key, b); break;
            case TimeSpan t: json.WriteNumber(key + "_ms", Math.Round(t.TotalMilliseconds, 3)); break;
            default: json.WriteString(key, value.ToString()); break;
        }
    }
}
