rustform::app_metrics!("app_metrics_file_buckets_not_increasing.yml");

fn main() {
    let _ = CustomMetrics::global();
}
