rustform::app_metrics!("app_metrics_file_bad_label_name.yml");

fn main() {
    let _ = CustomMetrics::global();
}
