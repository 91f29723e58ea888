using System.Buffers;
using System.Globalization;
using System.Text;

namespace Aeterna.Tool.Observability;

/// <summary>
/// Writes the Prometheus text exposition format, version 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/): per family one HELP and one
/// TYPE line, then its samples, contiguous.
/// </summary>
/// <remarks>
/// Hand-written rather than prometheus-net (which is available, and publishes under NativeAOT
/// without warnings): most of the supervisor's series are not counters bumped on a hot path but
/// values read at scrape time from one consistent status snapshot (generations by state, readiness,
/// the running relay), which a client library would keep as gauges of its own, a second copy of
/// state the supervisor's parts already own. Rendering the snapshot straight into one reused UTF-8
/// buffer costs about 1.6 KiB of allocation per scrape (docs/observability.md) in a PID 1 whose
/// memory matters, with no registry and no default collectors. The format is small: what it takes
/// is the escaping rules (HELP text: backslash and newline; label values: backslash, double quote
/// and newline), Go-parsable float text (+Inf, -Inf, NaN), and the histogram layout (cumulative
/// <c>_bucket{le=…}</c> ending in <c>le="+Inf"</c> equal to <c>_count</c>, then <c>_sum</c> and
/// <c>_count</c>). The output is checked with promtool in the tests.
/// </remarks>
internal sealed class PrometheusText
{
    /// <summary>The Content-Type of this format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    // UTF-8 straight into a buffer the caller may reuse, numbers formatted in place: a scrape
    // allocates next to nothing, so frequent scrapes do not grow the supervisor's heap.
    private readonly ArrayBufferWriter<byte> _out;
    private readonly List<string> _families = [];
    private string? _family;

    public PrometheusText(ArrayBufferWriter<byte>? output = null)
    {
        _out = output ?? new ArrayBufferWriter<byte>(16 * 1024);
        _out.ResetWrittenCount();
    }

    /// <summary>What has been written, as UTF-8.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _out.WrittenSpan;

    /// <summary>Starts a metric family: its HELP and TYPE lines. Each family may be started once.</summary>
    public void Family(string name, MetricType type, string help)
    {
        if (!IsMetricName(name)) throw new ArgumentException($"'{name}' is not a valid metric name", nameof(name));
        if (_families.Contains(name)) throw new InvalidOperationException($"metric family '{name}' was already written");
        _families.Add(name);
        _family = name;
        Write("# HELP ");
        Write(name);
        Write(" ");
        WriteEscaped(help, label: false);
        Write("\n# TYPE ");
        Write(name);
        Write(" ");
        Write(TypeName(type));
        Write("\n");
    }

    /// <summary>One sample of the current family (a counter, a gauge); labels as (name, value) pairs.</summary>
    public void Sample(string name, double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        if (_family is null || !(name == _family || (name.StartsWith(_family, StringComparison.Ordinal) && name.Length > _family.Length && name[_family.Length] == '_')))
            throw new InvalidOperationException($"sample '{name}' written outside its family (current: {_family ?? "none"})");
        WriteSample(name, "", value, labels, le: null);
    }

    /// <summary>A histogram of the current family: cumulative buckets, +Inf, _sum and _count.</summary>
    public void Histogram(Histogram histogram, params ReadOnlySpan<(string Name, string Value)> labels) =>
        histogram.WriteTo(this, labels);

    /// <summary>The lines of one histogram (called by <see cref="Observability.Histogram.WriteTo"/> under its lock).</summary>
    internal void HistogramLines(double[] bounds, long[] counts, long count, double sum, ReadOnlySpan<(string Name, string Value)> labels)
    {
        string family = _family ?? throw new InvalidOperationException("no family started");
        long cumulative = 0;
        for (int i = 0; i < bounds.Length; i++)
        {
            cumulative += counts[i];
            WriteSample(family, "_bucket", cumulative, labels, bounds[i]);
        }
        WriteSample(family, "_bucket", count, labels, double.PositiveInfinity);
        WriteSample(family, "_sum", sum, labels, le: null);
        WriteSample(family, "_count", count, labels, le: null);
    }

    private void WriteSample(string name, string suffix, double value, ReadOnlySpan<(string Name, string Value)> labels, double? le)
    {
        Write(name);
        Write(suffix);
        if (labels.Length > 0 || le is not null)
        {
            Write("{");
            for (int i = 0; i < labels.Length; i++)
            {
                if (!IsLabelName(labels[i].Name)) throw new ArgumentException($"'{labels[i].Name}' is not a valid label name", nameof(labels));
                if (i > 0) Write(",");
                Write(labels[i].Name);
                Write("=\"");
                WriteEscaped(labels[i].Value, label: true);
                Write("\"");
            }
            if (le is { } bound)
            {
                Write(labels.Length > 0 ? ",le=\"" : "le=\"");
                WriteValue(bound);
                Write("\"");
            }
            Write("}");
        }
        Write(" ");
        WriteValue(value);
        Write("\n");
    }

    public override string ToString() => Encoding.UTF8.GetString(_out.WrittenSpan);

    private void Write(ReadOnlySpan<char> text)
    {
        var span = _out.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        _out.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    /// <summary>HELP text escapes backslash and line feed; label values also the double quote.</summary>
    private void WriteEscaped(string text, bool label)
    {
        var rest = text.AsSpan();
        while (true)
        {
            int special = label ? rest.IndexOfAny('\\', '"', '\n') : rest.IndexOfAny('\\', '\n');
            if (special < 0)
            {
                Write(rest);
                return;
            }
            Write(rest[..special]);
            Write(rest[special] switch { '\\' => "\\\\", '"' => "\\\"", _ => "\\n" });
            rest = rest[(special + 1)..];
        }
    }

    private void WriteValue(double value)
    {
        var span = _out.GetSpan(32);
        int written;
        if (double.IsPositiveInfinity(value)) written = Copy("+Inf"u8, span);
        else if (double.IsNegativeInfinity(value)) written = Copy("-Inf"u8, span);
        else if (double.IsNaN(value)) written = Copy("NaN"u8, span);
        else if (value == Math.Floor(value) && Math.Abs(value) < 1e15) ((long)value).TryFormat(span, out written, default, CultureInfo.InvariantCulture);
        else value.TryFormat(span, out written, "R", CultureInfo.InvariantCulture);
        _out.Advance(written);

        static int Copy(ReadOnlySpan<byte> text, Span<byte> to)
        {
            text.CopyTo(to);
            return text.Length;
        }
    }

    private static string TypeName(MetricType type) => type switch
    {
        MetricType.Counter => "counter",
        MetricType.Gauge => "gauge",
        MetricType.Histogram => "histogram",
        _ => "untyped",
    };

    /// <summary>HELP text: backslash → \\, line feed → \n (nothing else is special there).</summary>
    public static string EscapeHelp(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>Label values: backslash → \\, double quote → \", line feed → \n.</summary>
    public static string EscapeLabelValue(string text)
    {
        var one = new PrometheusText(new ArrayBufferWriter<byte>(text.Length * 2 + 16));
        one.WriteEscaped(text, label: true);
        return one.ToString();
    }

    /// <summary>A sample value as Go's ParseFloat reads it: integers without a fraction, +Inf, -Inf, NaN.</summary>
    public static string FormatValue(double value)
    {
        var one = new PrometheusText(new ArrayBufferWriter<byte>(32));
        one.WriteValue(value);
        return one.ToString();
    }

    /// <summary>[a-zA-Z_:][a-zA-Z0-9_:]*</summary>
    public static bool IsMetricName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] is '_' or ':')
        && name.AsSpan().IndexOfAnyExcept(NameCharacters) < 0;

    /// <summary>[a-zA-Z_][a-zA-Z0-9_]*, not starting with __ (reserved).</summary>
    public static bool IsLabelName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && !name.StartsWith("__", StringComparison.Ordinal)
        && name.AsSpan().IndexOfAnyExcept(LabelCharacters) < 0;

    private static readonly SearchValues<char> NameCharacters = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
    private static readonly SearchValues<char> LabelCharacters = SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
}

internal enum MetricType { Counter, Gauge, Histogram }

/// <summary>
/// A Prometheus histogram with fixed upper bounds: observations are counted in the first bucket
/// whose bound is at least the value (le = "less or equal"); larger ones only in +Inf.
/// </summary>
internal sealed class Histogram
{
    private readonly double[] _bounds;
    private readonly long[] _counts;
    private readonly Lock _gate = new();
    private long _count;
    private double _sum;

    public Histogram(params double[] bounds)
    {
        if (bounds.Length == 0) throw new ArgumentException("a histogram needs at least one bucket", nameof(bounds));
        for (int i = 0; i < bounds.Length; i++)
            if (!double.IsFinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
                throw new ArgumentException("bucket bounds must be finite and increasing", nameof(bounds));
        _bounds = bounds;
        _counts = new long[bounds.Length];
    }

    /// <summary>Counts one value; NaN is ignored (it has no bucket and would poison the sum).</summary>
    public void Observe(double value)
    {
        if (double.IsNaN(value)) return;
        lock (_gate)
        {
            int i = Array.BinarySearch(_bounds, value);
            if (i < 0) i = ~i; // the first bound greater than the value
            if (i < _counts.Length) _counts[i]++;
            _count++;
            _sum += value;
        }
    }

    /// <summary>Writes its lines, consistent (under its lock), into the current family of <paramref name="text"/>.</summary>
    public void WriteTo(PrometheusText text, ReadOnlySpan<(string Name, string Value)> labels)
    {
        lock (_gate) text.HistogramLines(_bounds, _counts, _count, _sum, labels);
    }

    /// <summary>Durations of whole relays and of slow phases (soak, ready, commit): 5 ms to 10 min.</summary>
    public static double[] RelaySeconds => [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

    /// <summary>The handover latency (new connections waiting in the accept queue): 100 µs to 10 s.</summary>
    public static double[] HandoverSeconds => [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
}
