rustform::app_metrics!("app_metrics_file_buckets_on_counter.yml");

fn main() {
    let _ = CustomMetrics::global();
}
