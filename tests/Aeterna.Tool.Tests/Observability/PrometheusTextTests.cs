using Aeterna.Tool.Control;
using Aeterna.Tool.Observability;
using Aeterna.Tests.Support;

namespace Aeterna.Tool.Tests.Observability;

/// <summary>The hand-written text format writer, checked by hand and by promtool, the reference parser.</summary>
public sealed class PrometheusTextTests
{
    [Fact]
    public void Label_values_and_help_text_are_escaped_as_the_format_says()
    {
        Assert.Equal(@"a\\b\""c\nd", PrometheusText.EscapeLabelValue("a\\b\"c\nd"));
        Assert.Equal(@"say ""hi"" \\ then\nmore", PrometheusText.EscapeHelp("say \"hi\" \\ then\nmore")); // quotes stay in HELP
        Assert.Equal("plain ünïcode", PrometheusText.EscapeLabelValue("plain ünïcode"));

        var m = new PrometheusText();
        m.Family("x_total", MetricType.Counter, "line one\nline \\two");
        m.Sample("x_total", 3, ("path", "C:\\dir\n\"q\""));
        Assert.Equal("# HELP x_total line one\\nline \\\\two\n# TYPE x_total counter\nx_total{path=\"C:\\\\dir\\n\\\"q\\\"\"} 3\n", m.ToString());
    }

    [Fact]
    public void Values_are_written_as_Go_parses_floats()
    {
        Assert.Equal("+Inf", PrometheusText.FormatValue(double.PositiveInfinity));
        Assert.Equal("-Inf", PrometheusText.FormatValue(double.NegativeInfinity));
        Assert.Equal("NaN", PrometheusText.FormatValue(double.NaN));
        Assert.Equal("42", PrometheusText.FormatValue(42));
        Assert.Equal("0.25", PrometheusText.FormatValue(0.25));
        Assert.Equal("0.0001", PrometheusText.FormatValue(0.0001));
        Assert.Equal("1E+20", PrometheusText.FormatValue(1e20));
    }

    [Fact]
    public void A_histogram_has_cumulative_buckets_ending_in_Inf_equal_to_count_then_sum_and_count()
    {
        var h = new Histogram(0.125, 1, 10);
        foreach (double v in new[] { 0.0625, 0.125, 0.5, 1, 7, 50, double.NaN })
            h.Observe(v);
        var m = new PrometheusText();
        m.Family("job_seconds", MetricType.Histogram, "Job durations.");
        m.Histogram(h, ("kind", "a"));
        string[] lines = m.ToString().TrimEnd('\n').Split('\n');
        Assert.Equal(
        [
            "# HELP job_seconds Job durations.",
            "# TYPE job_seconds histogram",
            "job_seconds_bucket{kind=\"a\",le=\"0.125\"} 2", // 0.0625 and 0.125: le is inclusive
            "job_seconds_bucket{kind=\"a\",le=\"1\"} 4",
            "job_seconds_bucket{kind=\"a\",le=\"10\"} 5",
            "job_seconds_bucket{kind=\"a\",le=\"+Inf\"} 6", // 50 only here; NaN nowhere
            "job_seconds_sum{kind=\"a\"} 58.6875",
            "job_seconds_count{kind=\"a\"} 6",
        ], lines);
    }

    [Fact]
    public void Misuse_is_refused_rather_than_written()
    {
        var m = new PrometheusText();
        Assert.Throws<ArgumentException>(() => m.Family("bad-name", MetricType.Gauge, "x"));
        Assert.Throws<InvalidOperationException>(() => m.Sample("orphan", 1));
        m.Family("good", MetricType.Gauge, "x");
        Assert.Throws<ArgumentException>(() => m.Sample("good", 1, ("__reserved", "v")));
        Assert.Throws<ArgumentException>(() => m.Sample("good", 1, ("bad label", "v")));
        Assert.Throws<InvalidOperationException>(() => m.Sample("other", 1));
        Assert.Throws<InvalidOperationException>(() => m.Family("good", MetricType.Gauge, "again"));
        Assert.Throws<ArgumentException>(() => new Histogram(1, 1));
    }

    [Fact]
    public async Task Promtool_accepts_hostile_label_values_and_help_and_rejects_a_broken_counter()
    {
        var m = new PrometheusText();
        m.Family("aeterna_test_events_total", MetricType.Counter, "Events with \"quotes\", a backslash \\ and\na second line.");
        m.Sample("aeterna_test_events_total", 1, ("reason", "quote \" backslash \\ newline \n tab \t unicode ✓"));
        m.Sample("aeterna_test_events_total", 2, ("reason", ""));
        m.Family("aeterna_test_latency_seconds", MetricType.Histogram, "Latency.");
        var h = new Histogram(Histogram.HandoverSeconds);
        h.Observe(0.0003);
        h.Observe(99);
        m.Histogram(h);
        await Promtool.AssertValidAsync(m.ToString());

        // The check is not vacuous: promtool does complain about a counter without _total.
        var bad = new PrometheusText();
        bad.Family("aeterna_test_events", MetricType.Counter, "Events.");
        bad.Sample("aeterna_test_events", 1);
        var (code, output) = await Promtool.CheckMetricsAsync(bad.ToString());
        Assert.NotEqual(0, code);
        Assert.Contains("_total", output);
    }

    [Fact]
    public async Task Every_supervisor_metric_passes_promtool_including_handover_and_checkpoint_series()
    {
        var metrics = new SupervisorMetrics();
        metrics.RecordRelay(Report(1, "committed", new HandoverDto("pipe", 52_000, 1, 1L << 30, 0.8, 0.1, 2, 3), ("config", 4), ("ready", 300), ("handover", 9), ("soak", 1000), ("commit", 200)));
        metrics.RecordRelay(Report(2, "rolled_back", null, ("config", 3), ("soak", 400)));
        metrics.RecordRelay(Report(3, "refused", null));
        metrics.RecordRelay(Report(4, "not_ready", null, ("ready", 15_000), ("warmup", 10))); // a phase not known yet gets its series
        metrics.RecordCheckpoint(4096);
        var status = new StatusSnapshot("svc \"q\"", 1, "/etc/a.yaml", 12.5, 2, null, 3, 0, [],
            [new GenerationStatus(2, 100, "active", 4, null, true), new GenerationStatus(3, 101, "starting", 0.2, null, false)], []);

        string text = metrics.Render(status, ready: true, "0.1.0");
        await Promtool.AssertValidAsync(text);

        Assert.Contains("aeterna_relays_total{outcome=\"committed\"} 1\n", text);
        Assert.Contains("aeterna_relays_total{outcome=\"rolled_back\"} 1\n", text);
        Assert.Contains("aeterna_relays_total{outcome=\"refused\"} 1\n", text);
        Assert.Contains("aeterna_relays_total{outcome=\"not_ready\"} 1\n", text);
        Assert.Contains("aeterna_relay_phase_duration_seconds_count{phase=\"soak\"} 2\n", text);
        Assert.Contains("aeterna_relay_phase_duration_seconds_count{phase=\"warmup\"} 1\n", text);
        Assert.Contains("aeterna_handover_latency_seconds_count 1\n", text);
        Assert.Contains("aeterna_handover_latency_seconds_bucket{le=\"0.001\"} 1\n", text); // 0.8 ms
        Assert.Contains("aeterna_handover_state_bytes_total 52000\n", text);
        Assert.Contains("aeterna_handover_region_bytes_total 1073741824\n", text);
        Assert.Contains("aeterna_last_handover_state_bytes 52000\n", text);
        Assert.Contains("aeterna_checkpoints_total 1\n", text);
        Assert.Matches(@"\naeterna_last_checkpoint_age_seconds [0-9.]+(E-\d+)?\n", text);
        Assert.Contains("aeterna_last_checkpoint_bytes 4096\n", text);
        Assert.Contains("aeterna_restarts_total 3\n", text);
        Assert.Contains("aeterna_generations{state=\"starting\"} 1\n", text);
        Assert.Contains("aeterna_supervisor_info{service=\"svc \\\"q\\\"\",version=\"0.1.0\"} 1\n", text);
        Assert.DoesNotContain("NaN", text);
    }

    [Fact]
    public async Task Without_relays_or_checkpoints_the_output_has_no_made_up_samples()
    {
        var status = new StatusSnapshot("svc", 1, "/a.yaml", 1, null, null, 0, 0, [], [], []);
        string text = new SupervisorMetrics().Render(status, ready: false, "0.1.0");
        await Promtool.AssertValidAsync(text);
        Assert.Contains("aeterna_active_generation 0\n", text);
        Assert.Contains("aeterna_child_up 0\n", text);
        Assert.Contains("aeterna_ready 0\n", text);
        Assert.DoesNotContain("\naeterna_last_checkpoint_age_seconds ", text);
        Assert.DoesNotContain("\naeterna_last_handover_state_bytes ", text);
        Assert.DoesNotContain("NaN", text);
    }

    private static ReportDto Report(int id, string outcome, HandoverDto? handover, params (string Name, double Ms)[] phases) =>
        new(id, "test", DateTimeOffset.UtcNow, outcome, outcome == "committed" ? null : "because", 1, 2, 10, 11,
            phases.Sum(p => p.Ms), phases.Select(p => new PhaseDto(p.Name, p.Ms, outcome == "committed", null)).ToList(), [], handover, null);
}
