rustform::app_metrics!("app_metrics_file_unknown_key.yml");

fn main() {
    let _ = CustomMetrics::global();
}
