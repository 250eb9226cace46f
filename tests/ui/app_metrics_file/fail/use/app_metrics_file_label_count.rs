rustform::app_metrics!("app_metrics_file_label_count.yml");

fn main() {
    let metrics = CustomMetrics::global();
    metrics.orders_total.with(["completed"]).inc();
}
