rustform::app_metrics!("app_metrics_file_not_yaml.yml");

fn main() {
    let _ = CustomMetrics::global();
}
