rustform::app_metrics!("app_metrics_file_duplicate_metric.yml");

fn main() {
    let _ = CustomMetrics::global();
}
