rustform::app_metrics!("app_metrics_file_many_mistakes.yml");

fn main() {
    let _ = CustomMetrics::global();
}
