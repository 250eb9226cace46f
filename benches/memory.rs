//! What 10,000 series cost to hold and to render, against `prometheus-client` and
//! `prometheus`, in one run, at the machine's own stripe count and at the stripe count
//! of a host with 32 or more cores (`RUSTFORM_METRIC_STRIPES=66`).
//!
//! The registry: 50 counter families and 50 histogram families (Prometheus' 11 default
//! buckets), each with 100 label sets (`id="00".."99"`), 10,000 series in all. The
//! workload, the same for every library:
//!
//! - four threads write every series in turn, 8 times each (32 writes per series, from
//!   four threads: a tokio runtime's workers moving a request between them);
//! - then the 100 series of one counter family and of one histogram family are written
//!   10,000 times by each of the four threads at once: the few hot series of a service.
//!
//! Each measurement runs in a child process of its own (this program runs itself with
//! `--child <library>`), so one library's allocations and its allocator's free lists do
//! not count against another. Heap bytes are counted by a global allocator wrapper (what
//! the registry holds: live bytes after building, minus before); resident memory is the
//! growth of the process' resident set (`/proc/self/statm`) over the same span, which
//! adds the allocator's own overhead. Render time is the median of 41 renders of the
//! whole registry to the text format, after one warm-up.
//!
//! `cargo bench --bench memory`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use rustform::LabelSet;
use rustform::metrics::{Buckets, CounterVec, DEFAULT_BUCKETS, HistogramVec, Registry};

struct CountingAllocator;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: forwards the caller's layout to the system allocator unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const FAMILIES: usize = 50;
const LABEL_SETS: usize = 100;
const THREADS: usize = 4;
const COLD_WRITES: usize = 8;
const HOT_WRITES: usize = 10_000;
/// Under `cargo test` (no `--bench` argument) the hot phase is this short: the run
/// checks that every library's child completes, not what it costs.
const HOT_WRITES_IN_TESTS: usize = 10;

fn hot_writes() -> usize {
    if std::env::args().any(|a| a == "--bench") || std::env::var_os("MEMORY_BENCH").is_some() {
        HOT_WRITES
    } else {
        HOT_WRITES_IN_TESTS
    }
}

fn resident_bytes() -> i64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// One library's registry, written by the workload: how to write series `(family, id)`
/// and how to render everything.
trait Library: Sync {
    fn build() -> Self;
    fn count(&self, family: usize, id: usize, n: u64);
    fn observe(&self, family: usize, id: usize, value: f64);
    fn render(&self) -> usize;
}

fn ids() -> Vec<String> {
    (0..LABEL_SETS).map(|i| format!("{i:02}")).collect()
}

#[derive(Clone, LabelSet)]
struct Id {
    id: String,
}

struct Rustform {
    registry: Registry,
    counters: Vec<CounterVec<Id>>,
    histograms: Vec<HistogramVec<Id>>,
    ids: Vec<String>,
}

impl Library for Rustform {
    fn build() -> Self {
        let registry = Registry::new();
        let counters: Vec<_> = (0..FAMILIES)
            .map(|f| {
                let vec = CounterVec::<Id>::new();
                registry
                    .register(&format!("requests_{f}"), "Requests by id", vec.clone())
                    .unwrap();
                vec
            })
            .collect();
        let histograms: Vec<_> = (0..FAMILIES)
            .map(|f| {
                let vec = HistogramVec::<Id>::new(Buckets::default());
                registry
                    .register(
                        &format!("request_duration_{f}_seconds"),
                        "Durations by id",
                        vec.clone(),
                    )
                    .unwrap();
                vec
            })
            .collect();
        Rustform {
            registry,
            counters,
            histograms,
            ids: ids(),
        }
    }

    fn count(&self, family: usize, id: usize, n: u64) {
        self.counters[family]
            .with(&Id {
                id: self.ids[id].clone(),
            })
            .inc_by(n);
    }

    fn observe(&self, family: usize, id: usize, value: f64) {
        self.histograms[family]
            .with(&Id {
                id: self.ids[id].clone(),
            })
            .observe(value);
    }

    fn render(&self) -> usize {
        self.registry.render().len()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientId {
    id: String,
}

type ClientCounters = prometheus_client::metrics::family::Family<
    ClientId,
    prometheus_client::metrics::counter::Counter,
>;
type ClientHistograms = prometheus_client::metrics::family::Family<
    ClientId,
    prometheus_client::metrics::histogram::Histogram,
    fn() -> prometheus_client::metrics::histogram::Histogram,
>;

struct PrometheusClient {
    registry: prometheus_client::registry::Registry,
    counters: Vec<ClientCounters>,
    histograms: Vec<ClientHistograms>,
    ids: Vec<String>,
}

impl Library for PrometheusClient {
    fn build() -> Self {
        let mut registry = prometheus_client::registry::Registry::default();
        let counters: Vec<_> = (0..FAMILIES)
            .map(|f| {
                let family = ClientCounters::default();
                registry.register(format!("requests_{f}"), "Requests by id", family.clone());
                family
            })
            .collect();
        let histograms: Vec<_> = (0..FAMILIES)
            .map(|f| {
                let family = ClientHistograms::new_with_constructor(|| {
                    prometheus_client::metrics::histogram::Histogram::new(
                        DEFAULT_BUCKETS.iter().copied(),
                    )
                });
                registry.register(
                    format!("request_duration_{f}_seconds"),
                    "Durations by id",
                    family.clone(),
                );
                family
            })
            .collect();
        PrometheusClient {
            registry,
            counters,
            histograms,
            ids: ids(),
        }
    }

    fn count(&self, family: usize, id: usize, n: u64) {
        self.counters[family]
            .get_or_create(&ClientId {
                id: self.ids[id].clone(),
            })
            .inc_by(n);
    }

    fn observe(&self, family: usize, id: usize, value: f64) {
        self.histograms[family]
            .get_or_create(&ClientId {
                id: self.ids[id].clone(),
            })
            .observe(value);
    }

    fn render(&self) -> usize {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).unwrap();
        out.len()
    }
}

struct Prometheus {
    registry: prometheus::Registry,
    counters: Vec<prometheus::IntCounterVec>,
    histograms: Vec<prometheus::HistogramVec>,
    ids: Vec<String>,
    encoder: prometheus::TextEncoder,
}

impl Library for Prometheus {
    fn build() -> Self {
        let registry = prometheus::Registry::new();
        let counters: Vec<_> = (0..FAMILIES)
            .map(|f| {
                let vec = prometheus::IntCounterVec::new(
                    prometheus::Opts::new(format!("requests_{f}_total"), "Requests by id"),
                    &["id"],
                )
                .unwrap();
                registry.register(Box::new(vec.clone())).unwrap();
                vec
            })
            .collect();
        let histograms: Vec<_> = (0..FAMILIES)
            .map(|f| {
                let vec = prometheus::HistogramVec::new(
                    prometheus::HistogramOpts::new(
                        format!("request_duration_{f}_seconds"),
                        "Durations by id",
                    )
                    .buckets(DEFAULT_BUCKETS.to_vec()),
                    &["id"],
                )
                .unwrap();
                registry.register(Box::new(vec.clone())).unwrap();
                vec
            })
            .collect();
        Prometheus {
            registry,
            counters,
            histograms,
            ids: ids(),
            encoder: prometheus::TextEncoder::new(),
        }
    }

    fn count(&self, family: usize, id: usize, n: u64) {
        self.counters[family]
            .with_label_values(&[&self.ids[id]])
            .inc_by(n);
    }

    fn observe(&self, family: usize, id: usize, value: f64) {
        self.histograms[family]
            .with_label_values(&[&self.ids[id]])
            .observe(value);
    }

    fn render(&self) -> usize {
        self.encoder
            .encode_to_string(&self.registry.gather())
            .unwrap()
            .len()
    }
}

/// The workload of the module's documentation.
fn write<L: Library>(library: &L) {
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            scope.spawn(move || {
                for round in 0..COLD_WRITES {
                    for family in 0..FAMILIES {
                        for id in 0..LABEL_SETS {
                            // Each thread starts on another series, so the four write
                            // every series in turn.
                            let id = (id + thread * LABEL_SETS / THREADS) % LABEL_SETS;
                            library.count(family, id, 1);
                            library.observe(family, id, (round * id) as f64 / 1000.0);
                        }
                    }
                }
            });
        }
    });
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(move || {
                for n in 0..hot_writes() {
                    for id in 0..LABEL_SETS {
                        library.count(0, id, 1);
                        library.observe(0, id, (n % 100) as f64 / 100.0);
                    }
                }
            });
        }
    });
}

struct Measured {
    heap: i64,
    resident: i64,
    render_micros: f64,
    bytes: usize,
}

fn measure<L: Library>() -> Measured {
    let heap_before = LIVE_BYTES.load(Ordering::Relaxed);
    let resident_before = resident_bytes();
    let library = L::build();
    write(&library);
    let heap = LIVE_BYTES.load(Ordering::Relaxed) - heap_before;
    let resident = resident_bytes() - resident_before;
    let bytes = library.render();
    let mut times: Vec<f64> = (0..41)
        .map(|_| {
            let start = Instant::now();
            black_box(library.render());
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    Measured {
        heap,
        resident,
        render_micros: times[times.len() / 2],
        bytes,
    }
}

fn child(library: &str) {
    let m = match library {
        "rustform" => measure::<Rustform>(),
        "prometheus-client" => measure::<PrometheusClient>(),
        "prometheus" => measure::<Prometheus>(),
        other => panic!("unknown library {other}"),
    };
    println!("{} {} {} {}", m.heap, m.resident, m.render_micros, m.bytes);
}

fn run(library: &str, stripes: Option<&str>) -> Measured {
    let mut command = Command::new(std::env::current_exe().expect("the benchmark's path"));
    command.args(["--child", library]);
    if hot_writes() == HOT_WRITES {
        command.env("MEMORY_BENCH", "1");
    }
    match stripes {
        Some(n) => command.env("RUSTFORM_METRIC_STRIPES", n),
        None => command.env_remove("RUSTFORM_METRIC_STRIPES"),
    };
    let output = command.output().expect("the benchmark runs itself");
    assert!(
        output.status.success(),
        "{library}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fields.len(), 4, "{library} printed {text:?}");
    Measured {
        heap: fields[0].parse().unwrap(),
        resident: fields[1].parse().unwrap(),
        render_micros: fields[2].parse().unwrap(),
        bytes: fields[3].parse().unwrap(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1]);
        return;
    }
    if args.iter().any(|a| a == "--list") {
        // `cargo bench -- --list` asks every bench target for its benchmarks.
        println!("memory: bench");
        return;
    }
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let own = (cores * 2).clamp(4, 64) + 2;
    println!("10,000 series (50 counter + 50 histogram families x 100 label sets), {cores} CPUs");
    println!(
        "{:<34} {:>12} {:>14} {:>14} {:>12}",
        "library", "heap", "resident", "render", "exposition"
    );
    let own_label = format!("rustform ({own} stripes, this host)");
    let rows = [
        (own_label.as_str(), "rustform", None),
        ("rustform (66 stripes, forced)", "rustform", Some("66")),
        ("prometheus-client", "prometheus-client", None),
        ("prometheus", "prometheus", None),
    ];
    for (label, library, stripes) in rows {
        let m = run(library, stripes);
        println!(
            "{label:<34} {:>9.2} MB {:>11.2} MB {:>11.0} µs {:>9} B",
            m.heap as f64 / 1e6,
            m.resident as f64 / 1e6,
            m.render_micros,
            m.bytes
        );
    }
}
