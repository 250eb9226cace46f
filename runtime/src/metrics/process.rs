//! The standard `process_*` metrics, read from `/proc` at every scrape, and the
//! autometrics-compatible `build_info`.
//!
//! The process families carry the names, types and help texts of the Go and Python
//! Prometheus clients, so existing dashboards and alert rules work unchanged. Their values
//! are not kept anywhere: each exposition and each [`Registry::snapshot`] reads them again
//! from `/proc/self` (one read of the files a family needs, per family and scrape).
//!
//! When a read fails at scrape time (a file vanished, a permission changed, the contents
//! did not parse) only that family is left out of that exposition, its `# HELP` and
//! `# TYPE` lines included, and the snapshot shows the family with no series; the rest of
//! the exposition is unaffected. Should a read that just succeeded fail a moment later
//! within the same scrape, the family is written with its header and no sample, which
//! both the 0.0.4 text format and OpenMetrics allow.

use std::cell::Cell;
use std::panic::Location;
use std::path::{Path, PathBuf};

use super::encode::{Format, MetricType, write_f64};
use super::registry::GroupMetric;
use super::sealed::IntoSource;
use super::{GaugeVec, LabelSet, MetricValue, Registry, SeriesSnapshot, Source};
use crate::Error;

/// The kernel counts CPU time and process start in clock ticks of `USER_HZ`, which is 100
/// on every Linux architecture (it is what `sysconf(_SC_CLK_TCK)` returns). Asking for it
/// would take libc and `unsafe`, which the crate does without.
const TICKS_PER_SECOND: f64 = 100.0;

/// Registers the standard process metrics in `registry`, read from `/proc/self` at every
/// scrape:
///
/// | family | type | value |
/// |---|---|---|
/// | `process_cpu_seconds_total` | counter | user and system CPU time, in seconds |
/// | `process_resident_memory_bytes` | gauge | resident set size |
/// | `process_virtual_memory_bytes` | gauge | virtual memory size |
/// | `process_open_fds` | gauge | open file descriptors |
/// | `process_max_fds` | gauge | the soft limit on open file descriptors (`+Inf` when unlimited) |
/// | `process_threads` | gauge | OS threads of the process |
/// | `process_start_time_seconds` | gauge | start time, in seconds since the Unix epoch |
///
/// The families are registered together or not at all: when one of the names is already
/// taken in `registry` (a second call, say), the result is
/// [`Error::AlreadyRegistered`] and nothing is added.
///
/// On systems without Linux's `/proc` nothing is registered and the result is `Ok(())`;
/// a family whose file cannot be read now is left out. A family whose read fails later,
/// at scrape time, is left out of that scrape only.
///
/// CPU time and start time keep their fraction (1/100 s) in both text formats and in a
/// [`Snapshot`](super::Snapshot) (as [`MetricValue::FloatCounter`](super::MetricValue::FloatCounter) and
/// [`MetricValue::FloatGauge`](super::MetricValue::FloatGauge)); an unlimited
/// `process_max_fds` is `+Inf`.
///
/// ```
/// use rustform::metrics::{Registry, register_process_metrics};
///
/// let registry = Registry::new();
/// register_process_metrics(&registry)?;
/// # #[cfg(target_os = "linux")]
/// assert!(registry.render().contains("# TYPE process_resident_memory_bytes gauge\n"));
/// // A second registration is refused, not duplicated.
/// # #[cfg(target_os = "linux")]
/// assert!(register_process_metrics(&registry).is_err());
/// # Ok::<(), rustform::Error>(())
/// ```
#[track_caller]
pub fn register_process_metrics(registry: &Registry) -> Result<(), Error> {
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        return Ok(());
    }
    register_from(registry, Path::new("/proc"), Location::caller())
}

/// When this process started, in seconds since the Unix epoch, where `/proc` tells.
#[cfg_attr(
    not(feature = "otlp"),
    allow(dead_code, reason = "read by the OTLP exporter")
)]
pub(crate) fn process_start_time() -> Option<f64> {
    Probe::StartTime.read(Path::new("/proc"))
}

/// Registers every family readable now under `root` (a `/proc`), in one group.
fn register_from(
    registry: &Registry,
    root: &Path,
    location: &'static Location<'static>,
) -> Result<(), Error> {
    let group: Vec<_> = Probe::ALL
        .into_iter()
        .filter(|probe| probe.read(root).is_some())
        .map(|probe| {
            let family = ProcessFamily {
                probe,
                root: root.to_owned(),
            };
            (
                probe.name(),
                probe.help(),
                probe.unit(),
                GroupMetric::new(family),
            )
        })
        .collect();
    if group.is_empty() {
        return Ok(());
    }
    registry.register_group(group, location)
}

/// The build the running service comes from, exposed as the gauge
/// `build_info{version, commit, branch, service_name} 1`: the info metric autometrics
/// dashboards and alert rules join on to tell which version or commit a change in errors or
/// latency came with.
///
/// Fields left empty are written as empty label values, which Prometheus treats as absent.
///
/// ```
/// use rustform::metrics::{BuildInfo, Registry};
///
/// let registry = Registry::new();
/// BuildInfo {
///     version: "1.4.2".into(),
///     commit: "4f2a9c1".into(),
///     branch: "main".into(),
///     service_name: "checkout".into(),
/// }
/// .register(&registry)?;
/// assert!(registry.render().contains(
///     "build_info{version=\"1.4.2\",commit=\"4f2a9c1\",branch=\"main\",service_name=\"checkout\"} 1\n"
/// ));
/// # Ok::<(), rustform::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BuildInfo {
    /// The service's version, e.g. `env!("CARGO_PKG_VERSION")`.
    pub version: String,
    /// The commit it was built from.
    pub commit: String,
    /// The branch it was built from.
    pub branch: String,
    /// The service name (`OTEL_SERVICE_NAME`), as on the function metrics.
    pub service_name: String,
}

impl BuildInfo {
    /// Registers `build_info` with these labels and the value 1 in `registry`. A second
    /// registration in the same registry is [`Error::AlreadyRegistered`].
    #[track_caller]
    pub fn register(&self, registry: &Registry) -> Result<(), Error> {
        let family = GaugeVec::<BuildLabels>::new();
        family.with(&BuildLabels(self.clone())).set(1);
        registry.register(
            "build_info",
            "Version, commit and branch the service was built from; the value is always 1",
            family,
        )
    }
}

/// The first of `values` set and not empty, for the commit and branch of
/// `rustform::build_info!`. Not a public API.
#[doc(hidden)]
pub fn first_set(values: &[Option<&str>]) -> String {
    values
        .iter()
        .flatten()
        .find(|v| !v.is_empty())
        .map(|v| (*v).to_owned())
        .unwrap_or_default()
}

/// `build_info`'s labels. A private type, so the public `LabelSet` trait does not list
/// `BuildInfo` among its implementations in users' compile errors.
struct BuildLabels(BuildInfo);

impl LabelSet for BuildLabels {
    const NAMES: &'static [&'static str] = &["version", "commit", "branch", "service_name"];

    fn visit_values(&self, f: &mut dyn FnMut(&str)) {
        f(&self.0.version);
        f(&self.0.commit);
        f(&self.0.branch);
        f(&self.0.service_name);
    }
}

/// What one process family reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    CpuSeconds,
    ResidentMemory,
    VirtualMemory,
    OpenFds,
    MaxFds,
    Threads,
    StartTime,
}

impl Probe {
    const ALL: [Probe; 7] = [
        Probe::CpuSeconds,
        Probe::ResidentMemory,
        Probe::VirtualMemory,
        Probe::OpenFds,
        Probe::MaxFds,
        Probe::Threads,
        Probe::StartTime,
    ];

    fn name(self) -> &'static str {
        match self {
            Probe::CpuSeconds => "process_cpu_seconds_total",
            Probe::ResidentMemory => "process_resident_memory_bytes",
            Probe::VirtualMemory => "process_virtual_memory_bytes",
            Probe::OpenFds => "process_open_fds",
            Probe::MaxFds => "process_max_fds",
            Probe::Threads => "process_threads",
            Probe::StartTime => "process_start_time_seconds",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Probe::CpuSeconds => "Total user and system CPU time spent in seconds.",
            Probe::ResidentMemory => "Resident memory size in bytes.",
            Probe::VirtualMemory => "Virtual memory size in bytes.",
            Probe::OpenFds => "Number of open file descriptors.",
            Probe::MaxFds => "Maximum number of open file descriptors.",
            Probe::Threads => "Number of OS threads in the process.",
            Probe::StartTime => "Start time of the process since unix epoch in seconds.",
        }
    }

    fn unit(self) -> Option<&'static str> {
        match self {
            Probe::CpuSeconds | Probe::StartTime => Some("seconds"),
            Probe::ResidentMemory | Probe::VirtualMemory => Some("bytes"),
            Probe::OpenFds | Probe::MaxFds | Probe::Threads => None,
        }
    }

    fn metric_type(self) -> MetricType {
        match self {
            Probe::CpuSeconds => MetricType::Counter,
            _ => MetricType::Gauge,
        }
    }

    /// The value now, from the files under `root` (a `/proc`); `None` when a file is
    /// missing, unreadable or not in the expected form.
    fn read(self, root: &Path) -> Option<f64> {
        let own = root.join("self");
        match self {
            Probe::CpuSeconds => {
                let stat = read_stat(&own)?;
                Some(stat.utime.checked_add(stat.stime)? as f64 / TICKS_PER_SECOND)
            }
            Probe::ResidentMemory => {
                parse_status_bytes(&read_text(&own.join("status"))?, "VmRSS").map(|b| b as f64)
            }
            Probe::VirtualMemory => Some(read_stat(&own)?.vsize as f64),
            Probe::OpenFds => count_entries(&own.join("fd")).map(|n| n as f64),
            Probe::MaxFds => parse_max_open_files(&read_text(&own.join("limits"))?),
            Probe::Threads => Some(read_stat(&own)?.threads as f64),
            Probe::StartTime => {
                let boot = parse_boot_time(&read_text(&root.join("stat"))?)?;
                let ticks = read_stat(&own)?.start_ticks;
                Some(boot as f64 + ticks as f64 / TICKS_PER_SECOND)
            }
        }
    }

    /// `value` as a [`MetricValue`]: a float for the families whose values have a
    /// fraction (CPU time, start time) or may be infinite (an unlimited fd limit), a whole
    /// number for the counts.
    fn snapshot_value(self, value: f64) -> MetricValue {
        match self {
            Probe::CpuSeconds => MetricValue::FloatCounter(value),
            Probe::StartTime | Probe::MaxFds => MetricValue::FloatGauge(value),
            _ => MetricValue::Gauge(value as i64),
        }
    }
}

/// A registered process family: it keeps no value, only what to read and where.
struct ProcessFamily {
    probe: Probe,
    root: PathBuf,
}

thread_local! {
    /// The value [`Source::is_empty`] just read, for the [`Source::encode`] call the
    /// registry makes next, on the same thread, for the same family: one read per family
    /// and scrape, and the decision to write the family rests on the value written.
    static JUST_READ: Cell<Option<(usize, f64)>> = const { Cell::new(None) };
}

impl ProcessFamily {
    /// Tells this family's stashed value from another's.
    fn key(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }
}

impl Source for ProcessFamily {
    fn encode(&self, name: &str, _format: Format, out: &mut String) {
        let stashed = JUST_READ.try_with(Cell::take).ok().flatten();
        let value = match stashed {
            Some((key, value)) if key == self.key() => Some(value),
            _ => self.probe.read(&self.root),
        };
        let Some(value) = value else { return };
        // A counter's sample ends in `_total` in both formats; `name` is the base.
        out.push_str(name);
        if self.probe.metric_type() == MetricType::Counter {
            out.push_str("_total");
        }
        out.push(' ');
        write_f64(out, value);
        out.push('\n');
    }

    fn collect(&self, out: &mut Vec<SeriesSnapshot>) {
        if let Some(value) = self.probe.read(&self.root) {
            out.push(SeriesSnapshot {
                labels: Vec::new(),
                value: self.probe.snapshot_value(value),
            });
        }
    }

    fn is_empty(&self) -> bool {
        match self.probe.read(&self.root) {
            Some(value) => {
                let _ = JUST_READ.try_with(|cell| cell.set(Some((self.key(), value))));
                false
            }
            None => true,
        }
    }
}

impl IntoSource for ProcessFamily {
    fn into_source(self) -> (MetricType, Box<dyn Source>) {
        (self.probe.metric_type(), Box::new(self))
    }
}

/// The fields of `/proc/<pid>/stat` the process metrics use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    /// CPU time in user mode, in ticks.
    utime: u64,
    /// CPU time in kernel mode, in ticks.
    stime: u64,
    threads: u64,
    /// When the process started, in ticks after boot.
    start_ticks: u64,
    /// Virtual memory size, in bytes.
    vsize: u64,
}

fn read_stat(own: &Path) -> Option<Stat> {
    parse_stat(&std::fs::read(own.join("stat")).ok()?)
}

/// Parses `/proc/<pid>/stat`. Its second field is the command name in parentheses, which
/// may itself hold spaces, parentheses and bytes that are not UTF-8
/// (`1234 (my (odd) name) S …`); no field after it contains `)`, so the numbered fields
/// start after the last one.
fn parse_stat(bytes: &[u8]) -> Option<Stat> {
    let close = bytes.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&bytes[close + 1..]).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // Numbered as in proc(5): the state, right after the name, is field 3.
    let field = |number: usize| fields.get(number - 3)?.parse::<u64>().ok();
    Some(Stat {
        utime: field(14)?,
        stime: field(15)?,
        threads: field(20)?,
        start_ticks: field(22)?,
        vsize: field(23)?,
    })
}

/// A `Key:   1234 kB` line of `/proc/<pid>/status`, in bytes (the kernel's `kB` is 1024).
fn parse_status_bytes(status: &str, key: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))?;
    let mut words = line.split_ascii_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => kib.checked_mul(1024),
        _ => None,
    }
}

/// The soft limit of the `Max open files` line of `/proc/<pid>/limits`; `+Inf` when it
/// reads `unlimited`.
fn parse_max_open_files(limits: &str) -> Option<f64> {
    let line = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?;
    match line.split_ascii_whitespace().next()? {
        "unlimited" => Some(f64::INFINITY),
        soft => soft.parse::<u64>().ok().map(|n| n as f64),
    }
}

/// The `btime` line of `/proc/stat`: the boot time, in whole seconds since the epoch.
fn parse_boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// A text file of `/proc`; a process name in it may hold bytes that are not UTF-8.
fn read_text(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The number of entries of a directory. For `/proc/self/fd` this counts the descriptor
/// used to list it too, as the Go and Python clients do.
fn count_entries(dir: &Path) -> Option<u64> {
    let mut count = 0u64;
    for entry in std::fs::read_dir(dir).ok()? {
        entry.ok()?;
        count += 1;
    }
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Snapshot;

    /// `/proc/<pid>/stat` of a process named `name`, with the given fields 14, 15, 20, 22
    /// and 23 (utime, stime, threads, start time, vsize) and the others made up.
    fn stat_line(
        name: &[u8],
        utime: u64,
        stime: u64,
        threads: u64,
        start: u64,
        vsize: u64,
    ) -> Vec<u8> {
        let mut line = b"1234 (".to_vec();
        line.extend_from_slice(name);
        line.extend_from_slice(
            format!(
                ") S 1 1234 1234 0 -1 4194560 2456 0 0 0 {utime} {stime} 0 0 20 0 {threads} 0 \
                 {start} {vsize} 394 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
            )
            .as_bytes(),
        );
        line
    }

    #[test]
    fn stat_fields_are_found_after_a_name_with_spaces_and_parentheses() {
        let stat = parse_stat(&stat_line(b"my (odd) name", 150, 37, 9, 910534, 3133440)).unwrap();
        assert_eq!(
            stat,
            Stat {
                utime: 150,
                stime: 37,
                threads: 9,
                start_ticks: 910534,
                vsize: 3133440
            }
        );
        let stat = parse_stat(&stat_line(b") ) (", 1, 2, 3, 4, 5)).unwrap();
        assert_eq!((stat.utime, stat.vsize), (1, 5));
    }

    #[test]
    fn stat_accepts_a_name_that_is_not_utf8_or_holds_a_newline() {
        let stat = parse_stat(&stat_line(b"\xff\xfe x\n)", 7, 8, 1, 2, 4096)).unwrap();
        assert_eq!((stat.utime, stat.stime, stat.vsize), (7, 8, 4096));
    }

    #[test]
    fn malformed_stat_is_none_not_a_panic() {
        for bad in [
            &b""[..],
            b"1234",
            b"1234 (name",
            b"1234 (name) S 1 2 3",
            b"1234 (name) S 1 1 1 0 -1 0 0 0 0 0 x 1 0 0 20 0 1 0 1 1 1",
            b")",
        ] {
            assert_eq!(parse_stat(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        // A real line, cut at every byte: never a panic.
        let line = stat_line(b"a b", 1, 2, 3, 4, 5);
        for end in 0..line.len() {
            let _ = parse_stat(&line[..end]);
        }
    }

    const LIMITS: &str = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max open files            20000                1048576              files     
Max locked memory         8388608              8388608              bytes     
";

    #[test]
    fn max_open_files_is_the_soft_limit() {
        assert_eq!(parse_max_open_files(LIMITS), Some(20000.0));
    }

    #[test]
    fn unlimited_open_files_is_infinite() {
        let limits = LIMITS.replace("20000  ", "unlimited");
        assert_eq!(parse_max_open_files(&limits), Some(f64::INFINITY));
    }

    #[test]
    fn missing_or_malformed_limits_are_none() {
        assert_eq!(parse_max_open_files(""), None);
        assert_eq!(
            parse_max_open_files("Max cpu time  unlimited  unlimited  seconds\n"),
            None
        );
        assert_eq!(parse_max_open_files("Max open files\n"), None);
        assert_eq!(
            parse_max_open_files("Max open files  -1  10  files\n"),
            None
        );
        assert_eq!(
            parse_max_open_files("Max open files  many  10  files\n"),
            None
        );
    }

    #[test]
    fn status_sizes_are_kib_in_bytes() {
        let status =
            "Name:\tmy (odd) name\nVmSize:\t    3892 kB\nVmRSS:\t    1956 kB\nThreads:\t1\n";
        assert_eq!(parse_status_bytes(status, "VmRSS"), Some(1956 * 1024));
        assert_eq!(parse_status_bytes(status, "VmSize"), Some(3892 * 1024));
        assert_eq!(parse_status_bytes(status, "VmSwap"), None);
        assert_eq!(parse_status_bytes("VmRSS:\t12 pages\n", "VmRSS"), None);
        assert_eq!(
            parse_status_bytes("VmRSS:\t18446744073709551615 kB\n", "VmRSS"),
            None
        );
    }

    #[test]
    fn boot_time_is_the_btime_line() {
        let stat = "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr 5\nctxt 6\nbtime 1712345678\nprocesses 7\n";
        assert_eq!(parse_boot_time(stat), Some(1712345678));
        assert_eq!(parse_boot_time("cpu 1 2\n"), None);
        assert_eq!(parse_boot_time("btime soon\n"), None);
    }

    /// A made-up `/proc` in a directory of its own, removed on drop.
    struct FakeProc(PathBuf);

    impl FakeProc {
        fn new(test: &str) -> FakeProc {
            let root = std::env::temp_dir()
                .join(format!("rustform-process-{test}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(root.join("self/fd")).unwrap();
            std::fs::write(
                root.join("self/stat"),
                stat_line(b"my (odd) name", 150, 37, 9, 1234, 3133440),
            )
            .unwrap();
            std::fs::write(
                root.join("self/status"),
                "Name:\todd\nVmRSS:\t    1956 kB\n",
            )
            .unwrap();
            std::fs::write(root.join("self/limits"), LIMITS).unwrap();
            std::fs::write(root.join("stat"), "cpu 1 2 3\nbtime 1712345678\n").unwrap();
            for fd in ["0", "1", "2"] {
                std::fs::write(root.join("self/fd").join(fd), "").unwrap();
            }
            FakeProc(root)
        }

        fn registry(&self) -> Registry {
            let registry = Registry::new();
            register_from(&registry, &self.0, Location::caller()).unwrap();
            registry
        }
    }

    impl Drop for FakeProc {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const FAKE_TEXT: &str = "\
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 1.87
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 2002944
# HELP process_virtual_memory_bytes Virtual memory size in bytes.
# TYPE process_virtual_memory_bytes gauge
process_virtual_memory_bytes 3133440
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 3
# HELP process_max_fds Maximum number of open file descriptors.
# TYPE process_max_fds gauge
process_max_fds 20000
# HELP process_threads Number of OS threads in the process.
# TYPE process_threads gauge
process_threads 9
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1712345690.34
";

    #[test]
    fn every_family_is_read_at_scrape_time_in_both_formats() {
        let proc = FakeProc::new("formats");
        let registry = proc.registry();
        assert_eq!(registry.render(), FAKE_TEXT);
        let openmetrics = registry.render_openmetrics();
        assert!(openmetrics.starts_with(
            "# HELP process_cpu_seconds Total user and system CPU time spent in seconds.\n\
             # TYPE process_cpu_seconds counter\n\
             # UNIT process_cpu_seconds seconds\n\
             process_cpu_seconds_total 1.87\n"
        ));
        assert!(openmetrics.contains(
            "# TYPE process_start_time_seconds gauge\n\
             # UNIT process_start_time_seconds seconds\n\
             process_start_time_seconds 1712345690.34\n# EOF\n"
        ));

        // New values show in the next scrape: nothing is cached.
        std::fs::write(proc.0.join("self/fd/3"), "").unwrap();
        std::fs::write(
            proc.0.join("self/stat"),
            stat_line(b"x", 200, 50, 12, 1234, 4096),
        )
        .unwrap();
        let text = registry.render();
        assert!(text.contains("\nprocess_open_fds 4\n"), "{text}");
        assert!(text.contains("\nprocess_cpu_seconds_total 2.5\n"), "{text}");
        assert!(text.contains("\nprocess_threads 12\n"), "{text}");
        assert!(
            text.contains("\nprocess_virtual_memory_bytes 4096\n"),
            "{text}"
        );
    }

    #[test]
    fn the_snapshot_holds_the_same_values_as_the_text() {
        let proc = FakeProc::new("snapshot");
        let snapshot: Snapshot = proc.registry().snapshot();
        let get = |name| snapshot.get(name, &[]).cloned();
        assert_eq!(
            get("process_cpu_seconds_total"),
            Some(MetricValue::FloatCounter(1.87))
        );
        assert_eq!(
            get("process_resident_memory_bytes"),
            Some(MetricValue::Gauge(2002944))
        );
        assert_eq!(
            get("process_virtual_memory_bytes"),
            Some(MetricValue::Gauge(3133440))
        );
        assert_eq!(get("process_open_fds"), Some(MetricValue::Gauge(3)));
        assert_eq!(
            get("process_max_fds"),
            Some(MetricValue::FloatGauge(20000.0))
        );
        assert_eq!(get("process_threads"), Some(MetricValue::Gauge(9)));
        assert_eq!(
            get("process_start_time_seconds"),
            Some(MetricValue::FloatGauge(1712345690.34))
        );
        let family = snapshot.family("process_virtual_memory_bytes").unwrap();
        assert_eq!(family.unit.as_deref(), Some("bytes"));
        assert_eq!(family.metric_type, MetricType::Gauge);
    }

    #[test]
    fn a_family_whose_read_fails_at_scrape_time_is_left_out_whole() {
        let proc = FakeProc::new("failing");
        let registry = proc.registry();
        std::fs::write(proc.0.join("self/limits"), "Max open files  lots\n").unwrap();
        std::fs::remove_file(proc.0.join("self/status")).unwrap();
        let text = registry.render();
        assert!(!text.contains("process_max_fds"), "{text}");
        assert!(!text.contains("process_resident_memory_bytes"), "{text}");
        assert!(text.contains("\nprocess_open_fds 3\n"), "{text}");
        let openmetrics = registry.render_openmetrics();
        assert!(!openmetrics.contains("process_max_fds"), "{openmetrics}");
        assert!(openmetrics.ends_with("process_start_time_seconds 1712345690.34\n# EOF\n"));
        let snapshot = registry.snapshot();
        assert_eq!(snapshot.family("process_max_fds").unwrap().series, []);
        assert_eq!(
            snapshot.get("process_open_fds", &[]),
            Some(&MetricValue::Gauge(3))
        );

        // Every stat family goes when stat goes; the others stay.
        std::fs::remove_file(proc.0.join("self/stat")).unwrap();
        let text = registry.render();
        assert!(!text.contains("process_cpu_seconds"), "{text}");
        assert!(!text.contains("process_start_time_seconds"), "{text}");
        assert!(text.contains("\nprocess_open_fds 3\n"), "{text}");

        // Everything gone: an empty exposition, not a broken one.
        std::fs::remove_dir_all(&proc.0).unwrap();
        assert_eq!(registry.render(), "");
        assert_eq!(registry.render_openmetrics(), "# EOF\n");
    }

    #[test]
    fn unlimited_max_fds_is_inf_in_text_and_snapshots() {
        let proc = FakeProc::new("unlimited");
        std::fs::write(
            proc.0.join("self/limits"),
            LIMITS.replace("20000  ", "unlimited"),
        )
        .unwrap();
        let registry = proc.registry();
        assert!(registry.render().contains("\nprocess_max_fds +Inf\n"));
        assert_eq!(
            registry.snapshot().get("process_max_fds", &[]),
            Some(&MetricValue::FloatGauge(f64::INFINITY))
        );
    }

    #[test]
    fn only_readable_families_are_registered() {
        let proc = FakeProc::new("partial");
        std::fs::remove_file(proc.0.join("stat")).unwrap();
        std::fs::remove_dir_all(proc.0.join("self/fd")).unwrap();
        let registry = proc.registry();
        let names: Vec<_> = registry
            .snapshot()
            .families
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(
            names,
            [
                "process_cpu_seconds",
                "process_resident_memory_bytes",
                "process_virtual_memory_bytes",
                "process_max_fds",
                "process_threads",
            ]
        );
        // With no /proc at all nothing is registered, and that is not an error.
        let empty = Registry::new();
        register_from(&empty, &proc.0.join("missing"), Location::caller()).unwrap();
        assert!(empty.snapshot().families.is_empty());
    }

    #[test]
    fn registering_twice_is_already_registered_and_adds_nothing() {
        let proc = FakeProc::new("twice");
        let registry = proc.registry();
        let err = register_from(&registry, &proc.0, Location::caller()).unwrap_err();
        assert!(matches!(err, Error::AlreadyRegistered { .. }), "{err}");
        assert_eq!(registry.snapshot().families.len(), 7);
    }

    #[test]
    fn the_real_proc_gives_every_family() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let registry = Registry::new();
        register_process_metrics(&registry).unwrap();
        let snapshot = registry.snapshot();
        for probe in Probe::ALL {
            let family = snapshot.family(probe.name()).unwrap();
            assert_eq!(family.series.len(), 1, "{}", probe.name());
        }
    }

    #[test]
    fn build_info_is_one_series_with_the_four_labels() {
        let registry = Registry::new();
        let info = BuildInfo {
            version: "1.4.2".into(),
            commit: "4f2a9c1".into(),
            branch: "feature/\"quoted\"".into(),
            service_name: "checkout".into(),
        };
        info.register(&registry).unwrap();
        assert_eq!(
            registry.render(),
            "# HELP build_info Version, commit and branch the service was built from; the value is always 1\n\
             # TYPE build_info gauge\n\
             build_info{version=\"1.4.2\",commit=\"4f2a9c1\",branch=\"feature/\\\"quoted\\\"\",service_name=\"checkout\"} 1\n"
        );
        let labels = [
            ("version", "1.4.2"),
            ("commit", "4f2a9c1"),
            ("branch", "feature/\"quoted\""),
            ("service_name", "checkout"),
        ];
        assert_eq!(
            registry.snapshot().get("build_info", &labels),
            Some(&MetricValue::Gauge(1))
        );
        let err = BuildInfo::default().register(&registry).unwrap_err();
        assert!(matches!(err, Error::AlreadyRegistered { .. }), "{err}");
    }
}
