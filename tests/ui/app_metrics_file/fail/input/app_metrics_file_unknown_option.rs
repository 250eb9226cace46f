rustform::app_metrics!(
    #[metrics(crat = rustform, prefix = "shop")]
    pub struct ShopMetrics = "app_metrics_file_unknown_option.yml"
);

fn main() {
    let _ = ShopMetrics::global();
}
