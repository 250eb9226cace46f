//! A strict parser for the OpenMetrics 1.0 text format, to read rustform's OpenMetrics
//! exposition back and check it against the specification's rules.

use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub kind: String,
    pub help: Option<String>,
    pub unit: Option<String>,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub exemplar: Option<Exemplar>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub timestamp: Option<f64>,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses an exposition, or says which rule the first bad line breaks.
pub fn parse(text: &str) -> Result<Vec<Family>, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("the exposition must end with \"# EOF\\n\"")?;
    let mut families: Vec<Family> = Vec::new();
    let mut seen_names: HashSet<String> = HashSet::new();
    let mut descriptors: HashSet<&'static str> = HashSet::new();
    for (number, line) in body.lines().enumerate() {
        let err = |msg: String| format!("line {}: {msg}: {line:?}", number + 1);
        if line.is_empty() {
            return Err(err("empty lines are not allowed".into()));
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let (keyword, rest) = rest
                .split_once(' ')
                .ok_or_else(|| err("bad descriptor".into()))?;
            let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
            check_metric_name(name).map_err(err)?;
            let starts_family = families
                .last()
                .is_none_or(|f| f.name != name || !f.samples.is_empty());
            if starts_family {
                if !seen_names.insert(name.to_owned()) {
                    return Err(err(format!(
                        "family {name} appears twice (families must not be interleaved)"
                    )));
                }
                families.push(Family {
                    name: name.into(),
                    kind: "unknown".into(),
                    help: None,
                    unit: None,
                    samples: vec![],
                });
                descriptors.clear();
            }
            let family = families.last_mut().unwrap();
            let keyword: &'static str = match keyword {
                "TYPE" => "TYPE",
                "HELP" => "HELP",
                "UNIT" => "UNIT",
                other => return Err(err(format!("unknown descriptor {other}"))),
            };
            if !descriptors.insert(keyword) {
                return Err(err(format!("second {keyword} for {name}")));
            }
            match keyword {
                "TYPE" => {
                    if ![
                        "counter",
                        "gauge",
                        "histogram",
                        "gaugehistogram",
                        "summary",
                        "info",
                        "stateset",
                        "unknown",
                    ]
                    .contains(&value)
                    {
                        return Err(err(format!("unknown type {value}")));
                    }
                    family.kind = value.into();
                }
                "HELP" => family.help = Some(unescape(value, true).map_err(err)?),
                _ => {
                    if !name.ends_with(&format!("_{value}")) {
                        return Err(err(format!("unit {value} is not a suffix of {name}")));
                    }
                    family.unit = Some(value.into());
                }
            }
            continue;
        }
        let family = families
            .last_mut()
            .ok_or_else(|| err("a sample before any descriptor".into()))?;
        let sample = parse_sample(line).map_err(err)?;
        let suffix = sample
            .name
            .strip_prefix(&family.name)
            .ok_or_else(|| err(format!("sample outside family {}", family.name)))?;
        let allowed: &[&str] = match family.kind.as_str() {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_count", "_sum", "_created"],
            "gauge" | "unknown" => &[""],
            _ => &[""],
        };
        if !allowed.contains(&suffix) {
            return Err(err(format!(
                "{} is not a sample name of {} {}",
                sample.name, family.kind, family.name
            )));
        }
        if let Some(ex) = &sample.exemplar {
            if !(suffix == "_total" || suffix == "_bucket") {
                return Err(err(
                    "exemplars belong on counter totals and histogram buckets only".into(),
                ));
            }
            let chars: usize = ex
                .labels
                .iter()
                .map(|(n, v)| n.chars().count() + v.chars().count())
                .sum();
            if chars > 128 {
                return Err(err("exemplar labels exceed 128 characters".into()));
            }
        }
        if suffix == "_bucket" && sample.label("le").is_none() {
            return Err(err("bucket without le".into()));
        }
        let key = (sample.name.clone(), sample.labels.clone());
        if family
            .samples
            .iter()
            .any(|s| (s.name.clone(), s.labels.clone()) == key)
        {
            return Err(err("duplicate label set".into()));
        }
        family.samples.push(sample);
    }
    for family in &families {
        if family.kind == "histogram" {
            check_histogram(family)?;
        }
    }
    Ok(families)
}

fn check_histogram(family: &Family) -> Result<(), String> {
    let series: HashSet<Vec<(String, String)>> = family
        .samples
        .iter()
        .map(|s| {
            s.labels
                .iter()
                .filter(|(n, _)| n != "le")
                .cloned()
                .collect()
        })
        .collect();
    for labels in series {
        let of = |suffix: &str| -> Vec<&Sample> {
            let name = format!("{}{suffix}", family.name);
            family
                .samples
                .iter()
                .filter(|s| {
                    s.name == name
                        && s.labels
                            .iter()
                            .filter(|(n, _)| n != "le")
                            .cloned()
                            .collect::<Vec<_>>()
                            == labels
                })
                .collect()
        };
        let buckets: Vec<(f64, f64)> = of("_bucket")
            .into_iter()
            .map(|s| {
                let le = s.label("le").unwrap();
                (
                    if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap_or(f64::NAN)
                    },
                    s.value,
                )
            })
            .collect();
        if buckets.windows(2).any(|w| {
            w[0].0.partial_cmp(&w[1].0) != Some(std::cmp::Ordering::Less) || w[0].1 > w[1].1
        }) {
            return Err(format!(
                "{}: buckets not ascending or counts decreasing: {buckets:?}",
                family.name
            ));
        }
        let inf = buckets
            .last()
            .filter(|b| b.0.is_infinite())
            .ok_or(format!("{}: no +Inf bucket", family.name))?;
        if let Some(count) = of("_count").first()
            && count.value != inf.1
        {
            return Err(format!(
                "{}: +Inf bucket {} != _count {}",
                family.name, inf.1, count.value
            ));
        }
    }
    Ok(())
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if rest.starts_with('{') {
        let (parsed, after) = parse_labels(rest)?;
        labels = parsed;
        rest = after;
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or("expected a space before the value")?;
    let (value_part, exemplar_part) = match rest.split_once(" # ") {
        Some((v, e)) => (v, Some(e)),
        None => (rest, None),
    };
    let mut fields = value_part.split(' ');
    let value = parse_float(fields.next().ok_or("no value")?)?;
    if let Some(ts) = fields.next() {
        parse_float(ts)?;
    }
    if fields.next().is_some() {
        return Err("trailing text after the timestamp".into());
    }
    let exemplar = match exemplar_part {
        Some(e) => {
            let (labels, after) = parse_labels(e)?;
            let after = after
                .strip_prefix(' ')
                .ok_or("expected the exemplar value")?;
            let mut parts = after.split(' ');
            let value = parse_float(parts.next().ok_or("no exemplar value")?)?;
            let timestamp = parts.next().map(parse_float).transpose()?;
            Some(Exemplar {
                labels,
                value,
                timestamp,
            })
        }
        None => None,
    };
    Ok(Sample {
        name: name.into(),
        labels,
        value,
        exemplar,
    })
}

/// Label pairs, in order.
type Labels = Vec<(String, String)>;

/// Parses `{a="b",…}` and returns the labels and the rest of the text.
fn parse_labels(text: &str) -> Result<(Labels, &str), String> {
    let mut rest = text.strip_prefix('{').ok_or("expected {")?;
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('}') {
        return Ok((labels, after));
    }
    loop {
        let eq = rest.find('=').ok_or("expected =")?;
        let name = &rest[..eq];
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("expected a quoted value")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value".into()),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((_, '\n')) => return Err("raw newline in a label value".into()),
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(n, _): &(String, String)| n == name) {
            return Err(format!("label {name} twice"));
        }
        labels.push((name.to_owned(), value));
        rest = &rest[end + 1..];
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        rest = rest.strip_prefix(',').ok_or("expected , or }")?;
    }
}

fn unescape(text: &str, quotes: bool) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('"') if quotes => out.push('"'),
                other => return Err(format!("bad escape {other:?}")),
            }
        } else if c == '"' && quotes {
            return Err("unescaped quote in HELP".into());
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn parse_float(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        t => t.parse().map_err(|_| format!("bad number {t:?}")),
    }
}

fn check_metric_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if ok {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}
