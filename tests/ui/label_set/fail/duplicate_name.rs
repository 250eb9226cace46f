use rustform::LabelSet;
use rustform::metrics::CounterVec;

#[derive(LabelSet)]
struct Query {
    table: &'static str,
    #[label(rename = "table")]
    table_name: &'static str,
}

fn main() {
    let queries = CounterVec::<Query>::new();
    queries
        .with(&Query {
            table: "a",
            table_name: "b",
        })
        .inc();
}
