rustform::app_metrics!("app_metrics_file_sample_collision.yml");

fn main() {
    let _ = CustomMetrics::global();
}
