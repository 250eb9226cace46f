use rustform::{ErrorLabel, observed};
use std::future::Future;

#[derive(Debug, ErrorLabel)]
enum E {
    NotFound,
    #[label(rename = "db")]
    Database(#[allow(dead_code)] String),
}

impl std::fmt::Display for E {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[observed(track_concurrency, labels(tier = "gold"), buckets = [0.1, 1.0])]
fn load(id: u32) -> Result<u32, E> {
    if id == 0 {
        return Err(E::NotFound);
    }
    if id == 1 {
        Err(E::Database("down".into()))?
    }
    Ok(id)
}

#[observed]
async fn fetch(id: u32) -> Result<String, std::io::Error> {
    let v = load(id).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(v.to_string())
}

struct Repo<T> {
    v: Vec<T>,
}

#[observed(callers)]
impl<T: Clone + std::fmt::Debug> Repo<T> {
    fn get(&self, i: usize) -> Option<&T> {
        self.v.get(i)
    }
    #[observed(skip)]
    fn len(&self) -> usize {
        self.v.len()
    }
    async fn first(&self) -> Option<T> {
        self.v.first().cloned()
    }
    fn new(v: Vec<T>) -> Self {
        Repo { v }
    }
    fn into_inner(self) -> Vec<T> {
        self.v
    }
    fn fut(&self) -> impl Future<Output = usize> + '_ {
        async move { self.v.len() }
    }
}

struct Lone;
impl Lone {
    #[observed]
    fn method(&mut self, x: &str) -> &'static str {
        let _ = x;
        "x"
    }
}

#[async_trait::async_trait]
trait Store {
    async fn put(&self, k: &str) -> Result<(), E>;
}

#[async_trait::async_trait]
#[observed]
impl Store for Lone {
    async fn put(&self, k: &str) -> Result<(), E> {
        if k.is_empty() {
            Err(E::NotFound)
        } else {
            Ok(())
        }
    }
}

struct Other;
#[observed]
#[async_trait::async_trait]
impl Store for Other {
    async fn put(&self, _k: &str) -> Result<(), E> {
        Ok(())
    }
}

#[observed]
fn generic<T: Default>(x: impl Into<u64>) -> T {
    let _ = x.into();
    T::default()
}

#[observed]
fn panics() {
    panic!("boom")
}

#[observed]
async fn slow() {
    tokio::time::sleep(std::time::Duration::from_secs(10)).await
}

#[tokio::test]
async fn smoke() {
    let _ = load(0);
    let _ = load(1);
    let _ = load(2);
    let _ = fetch(0).await;
    let _ = fetch(5).await;
    let r = Repo::new(vec![1, 2]);
    let _ = r.get(0);
    let _ = r.len();
    let _ = r.first().await;
    let _ = r.fut().await;
    let _ = r.into_inner();
    let mut l = Lone;
    let _ = l.method("a");
    let _ = Lone.put("").await;
    let _ = Other.put("x").await;
    let _: u8 = generic(3u8);
    let _ = std::panic::catch_unwind(panics);
    let _ = tokio::time::timeout(std::time::Duration::from_millis(10), slow()).await;
    println!("{}", rustform::metrics::default_registry().render());
}
