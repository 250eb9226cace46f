rustform::app_metrics!("app_metrics_file_no_custom_metrics.yml");

fn main() {
    let _ = CustomMetrics::global();
}
