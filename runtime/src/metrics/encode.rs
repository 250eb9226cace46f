//! The Prometheus text format (0.0.4) and OpenMetrics 1.0 text, written straight from
//! the atomics into one `String`: no intermediate structures, no per-sample allocation.

use std::fmt::Write as _;

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// The Prometheus text format, version 0.0.4.
    Text,
    /// The OpenMetrics 1.0 text format.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` a response in this format carries.
    ///
    /// ```
    /// use rustform::metrics::Format;
    /// assert_eq!(Format::Text.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    /// ```
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The kind of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MetricType {
    /// A monotonic count; samples end in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations in cumulative buckets, with their sum and count.
    Histogram,
}

impl MetricType {
    /// The name used on `# TYPE` lines.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
        }
    }
}

/// Appends a label value, escaping `\`, `"` and newlines.
pub(crate) fn escape_label_value(out: &mut String, value: &str) {
    let mut start = 0;
    for (i, b) in value.bytes().enumerate() {
        let escaped = match b {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            b'\n' => "\\n",
            _ => continue,
        };
        out.push_str(&value[start..i]);
        out.push_str(escaped);
        start = i + 1;
    }
    out.push_str(&value[start..]);
}

/// Appends help text: `\` and newlines escaped, and `"` too in OpenMetrics.
pub(crate) fn escape_help(out: &mut String, help: &str, format: Format) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if format == Format::OpenMetrics => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Appends `name="value",…` for the pairs (no braces): the form every series keeps
/// precomputed.
pub(crate) fn encode_label_pairs<'a>(
    out: &mut String,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_label_value(out, value);
        out.push('"');
    }
}

/// Appends a float the way Prometheus parses it: `+Inf`, `-Inf`, `NaN`, whole numbers
/// without a fraction, everything else in the shortest form that reads back exactly.
pub(crate) fn write_f64(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        write_i64(out, value as i64);
    } else {
        out.push_str(ryu::Buffer::new().format_finite(value));
    }
}

/// Appends an unsigned integer.
pub(crate) fn write_u64(out: &mut String, value: u64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// Appends a signed integer.
pub(crate) fn write_i64(out: &mut String, value: i64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// A float formatted once for reuse in `le` labels and keys.
pub(crate) fn f64_to_string(value: f64) -> String {
    let mut s = String::new();
    write_f64(&mut s, value);
    s
}

/// Writes the samples of one series: the family name, the series' precomputed labels
/// and the format are fixed; the metric supplies the values.
pub struct SampleWriter<'a> {
    out: &'a mut String,
    name: &'a str,
    labels: &'a str,
    format: Format,
    /// Where `name_bucket{labels,le="` was written for the series' first bucket: the
    /// next buckets copy it in one move.
    bucket_prefix: Option<std::ops::Range<usize>>,
}

impl<'a> SampleWriter<'a> {
    pub(crate) fn new(out: &'a mut String, name: &'a str, labels: &'a str, format: Format) -> Self {
        SampleWriter {
            out,
            name,
            labels,
            format,
            bucket_prefix: None,
        }
    }
}

impl SampleWriter<'_> {
    /// Whether the format shows exemplars (only OpenMetrics does).
    pub(crate) fn wants_exemplars(&self) -> bool {
        self.format == Format::OpenMetrics
    }

    /// `name{labels} ` with a suffix on the name.
    fn start(&mut self, suffix: &str) {
        self.out.push_str(self.name);
        self.out.push_str(suffix);
        if !self.labels.is_empty() {
            self.out.push('{');
            self.out.push_str(self.labels);
            self.out.push('}');
        }
        self.out.push(' ');
    }

    pub(crate) fn counter(&mut self, value: u64, exemplar: Option<&super::Exemplar>) {
        self.start("_total");
        write_u64(self.out, value);
        self.exemplar(exemplar);
        self.out.push('\n');
    }

    pub(crate) fn gauge(&mut self, value: i64) {
        self.start("");
        write_i64(self.out, value);
        self.out.push('\n');
    }

    pub(crate) fn bucket(&mut self, le: &str, cumulative: u64, exemplar: Option<&super::Exemplar>) {
        match &self.bucket_prefix {
            Some(prefix) => self.out.extend_from_within(prefix.clone()),
            None => {
                let start = self.out.len();
                self.out.push_str(self.name);
                self.out.push_str("_bucket{");
                if !self.labels.is_empty() {
                    self.out.push_str(self.labels);
                    self.out.push(',');
                }
                self.out.push_str("le=\"");
                self.bucket_prefix = Some(start..self.out.len());
            }
        }
        self.out.push_str(le);
        self.out.push_str("\"} ");
        write_u64(self.out, cumulative);
        self.exemplar(exemplar);
        self.out.push('\n');
    }

    pub(crate) fn histogram_totals(&mut self, sum: f64, count: u64) {
        self.start("_sum");
        write_f64(self.out, sum);
        self.out.push('\n');
        self.start("_count");
        write_u64(self.out, count);
        self.out.push('\n');
    }

    /// ` # {trace_id="…",span_id="…"} value timestamp`, OpenMetrics only.
    fn exemplar(&mut self, exemplar: Option<&super::Exemplar>) {
        let Some(exemplar) = exemplar else { return };
        if self.format != Format::OpenMetrics {
            return;
        }
        self.out.push_str(" # {");
        encode_label_pairs(
            self.out,
            [
                ("trace_id", exemplar.trace_id.as_str()),
                ("span_id", exemplar.span_id.as_str()),
            ],
        );
        self.out.push_str("} ");
        write_f64(self.out, exemplar.value);
        let secs = exemplar.timestamp.as_secs_f64();
        let _ = write!(self.out, " {secs:.3}");
    }
}

/// Writes the `# HELP`/`# TYPE` (and OpenMetrics `# UNIT`) lines of a family.
pub(crate) fn write_header(
    out: &mut String,
    base: &str,
    help: &str,
    unit: Option<&str>,
    metric_type: MetricType,
    format: Format,
) {
    // In the 0.0.4 format a counter's family is named like its sample, `_total` included;
    // in OpenMetrics the family carries the base name and the sample adds `_total`.
    let suffix = if format == Format::Text && metric_type == MetricType::Counter {
        "_total"
    } else {
        ""
    };
    out.push_str("# HELP ");
    out.push_str(base);
    out.push_str(suffix);
    out.push(' ');
    escape_help(out, help, format);
    out.push_str("\n# TYPE ");
    out.push_str(base);
    out.push_str(suffix);
    out.push(' ');
    out.push_str(metric_type.as_str());
    out.push('\n');
    if let (Format::OpenMetrics, Some(unit)) = (format, unit) {
        out.push_str("# UNIT ");
        out.push_str(base);
        out.push(' ');
        out.push_str(unit);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_newline() {
        let mut s = String::new();
        escape_label_value(&mut s, "a\\b\"c\nd é");
        assert_eq!(s, r#"a\\b\"c\nd é"#);
    }

    #[test]
    fn help_escapes_quotes_only_in_openmetrics() {
        let mut text = String::new();
        escape_help(&mut text, "say \"hi\"\\\n", Format::Text);
        assert_eq!(text, "say \"hi\"\\\\\\n");
        let mut om = String::new();
        escape_help(&mut om, "say \"hi\"", Format::OpenMetrics);
        assert_eq!(om, "say \\\"hi\\\"");
    }

    #[test]
    fn floats_read_back_exactly() {
        for (v, s) in [
            (1.0, "1"),
            (0.005, "0.005"),
            (2.5, "2.5"),
            (-3.0, "-3"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
            (1e20, "1e20"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(f64_to_string(v), s);
            if v.is_finite() {
                assert_eq!(s.parse::<f64>().unwrap(), v);
            }
        }
    }

    #[test]
    fn text_counter_header_names_the_sample() {
        let mut s = String::new();
        write_header(
            &mut s,
            "jobs",
            "Jobs run",
            Some("x"),
            MetricType::Counter,
            Format::Text,
        );
        assert_eq!(s, "# HELP jobs_total Jobs run\n# TYPE jobs_total counter\n");
        let mut s = String::new();
        write_header(
            &mut s,
            "jobs",
            "Jobs run",
            None,
            MetricType::Counter,
            Format::OpenMetrics,
        );
        assert_eq!(s, "# HELP jobs Jobs run\n# TYPE jobs counter\n");
    }
}
