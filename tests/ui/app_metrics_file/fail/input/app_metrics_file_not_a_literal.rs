const CONFIG: &str = "rustform.yml";

rustform::app_metrics!(CONFIG);

mod named {
    rustform::app_metrics!(pub struct ShopMetrics = concat!("rustform", ".yml"));
}

fn main() {}
