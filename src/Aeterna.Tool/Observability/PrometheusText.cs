using System.Globalization;
using System.Text;

namespace Aeterna.Tool.Observability;

/// <summary>
/// Writes the Prometheus text exposition format, version 0.0.4
/// (https://prometheus.io/docs/instrumenting/exposition_formats/): per family one HELP and one
/// TYPE line, then its samples, contiguous.
/// </summary>
/// <remarks>
/// Hand-written rather than a client library: no Prometheus client package is reachable from this
/// project's package mirror, and the official one (prometheus-net) would bring a registry, a
/// background collector thread and reflection-based bits into a PID 1 whose memory matters
/// (docs/benchmarks.md). The format is small: what it takes is the escaping rules (HELP text:
/// backslash and newline; label values: backslash, double quote and newline), Go-parsable float
/// text (+Inf, -Inf, NaN), and the histogram layout (cumulative <c>_bucket{le=…}</c> ending in
/// <c>le="+Inf"</c> equal to <c>_count</c>, then <c>_sum</c> and <c>_count</c>). The output is
/// checked with promtool in the tests.
/// </remarks>
internal sealed class PrometheusText
{
    /// <summary>The Content-Type of this format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _out = new(8192);
    private readonly HashSet<string> _families = new(StringComparer.Ordinal);
    private string? _family;

    /// <summary>Starts a metric family: its HELP and TYPE lines. Each family may be started once.</summary>
    public void Family(string name, MetricType type, string help)
    {
        if (!IsMetricName(name)) throw new ArgumentException($"'{name}' is not a valid metric name", nameof(name));
        if (!_families.Add(name)) throw new InvalidOperationException($"metric family '{name}' was already written");
        _family = name;
        _out.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n');
        _out.Append("# TYPE ").Append(name).Append(' ').Append(TypeName(type)).Append('\n');
    }

    /// <summary>One sample of the current family (a counter, a gauge); labels as (name, value) pairs.</summary>
    public void Sample(string name, double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        if (_family is null || !(name == _family || (name.StartsWith(_family, StringComparison.Ordinal) && name.Length > _family.Length && name[_family.Length] == '_')))
            throw new InvalidOperationException($"sample '{name}' written outside its family (current: {_family ?? "none"})");
        _out.Append(name);
        if (labels.Length > 0)
        {
            _out.Append('{');
            for (int i = 0; i < labels.Length; i++)
            {
                if (!IsLabelName(labels[i].Name)) throw new ArgumentException($"'{labels[i].Name}' is not a valid label name", nameof(labels));
                if (i > 0) _out.Append(',');
                _out.Append(labels[i].Name).Append("=\"").Append(EscapeLabelValue(labels[i].Value)).Append('"');
            }
            _out.Append('}');
        }
        _out.Append(' ').Append(FormatValue(value)).Append('\n');
    }

    /// <summary>A histogram of the current family: cumulative buckets, +Inf, _sum and _count.</summary>
    public void Histogram(Histogram.State state, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        string family = _family ?? throw new InvalidOperationException("no family started");
        var withLe = new (string, string)[labels.Length + 1];
        labels.CopyTo(withLe);
        long cumulative = 0;
        for (int i = 0; i < state.Bounds.Length; i++)
        {
            cumulative += state.Counts[i];
            withLe[^1] = ("le", FormatValue(state.Bounds[i]));
            Sample(family + "_bucket", cumulative, withLe);
        }
        withLe[^1] = ("le", "+Inf");
        Sample(family + "_bucket", state.Count, withLe);
        Sample(family + "_sum", state.Sum, labels);
        Sample(family + "_count", state.Count, labels);
    }

    public override string ToString() => _out.ToString();

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
        if (text.AsSpan().IndexOfAny('\\', '"', '\n') < 0) return text;
        var b = new StringBuilder(text.Length + 8);
        foreach (char c in text)
        {
            switch (c)
            {
                case '\\': b.Append("\\\\"); break;
                case '"': b.Append("\\\""); break;
                case '\n': b.Append("\\n"); break;
                default: b.Append(c); break;
            }
        }
        return b.ToString();
    }

    /// <summary>A sample value as Go's ParseFloat reads it: integers without a fraction, +Inf, -Inf, NaN.</summary>
    public static string FormatValue(double value)
    {
        if (double.IsPositiveInfinity(value)) return "+Inf";
        if (double.IsNegativeInfinity(value)) return "-Inf";
        if (double.IsNaN(value)) return "NaN";
        if (value == Math.Floor(value) && Math.Abs(value) < 1e15) return ((long)value).ToString(CultureInfo.InvariantCulture);
        return value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>[a-zA-Z_:][a-zA-Z0-9_:]*</summary>
    public static bool IsMetricName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] is '_' or ':')
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':');

    /// <summary>[a-zA-Z_][a-zA-Z0-9_]*, not starting with __ (reserved).</summary>
    public static bool IsLabelName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && !name.StartsWith("__", StringComparison.Ordinal)
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
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

    public State Snapshot()
    {
        lock (_gate) return new State(_bounds, [.. _counts], _count, _sum);
    }

    /// <summary>A consistent copy: per-bucket (not cumulative) counts, total count and sum.</summary>
    public readonly record struct State(double[] Bounds, long[] Counts, long Count, double Sum);

    /// <summary>Durations of whole relays and of slow phases (soak, ready, commit): 5 ms to 10 min.</summary>
    public static double[] RelaySeconds => [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

    /// <summary>The handover latency (new connections waiting in the accept queue): 100 µs to 10 s.</summary>
    public static double[] HandoverSeconds => [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
}
