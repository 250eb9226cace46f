rustform::app_metrics!("app_metrics_file_missing.yml");

fn main() {
    let _ = CustomMetrics::global();
}
