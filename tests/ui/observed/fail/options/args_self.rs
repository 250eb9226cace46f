use rustform::observed;

struct Account {
    id: u64,
}

#[observed]
impl Account {
    #[observed(args(self))]
    fn id(&self) -> u64 {
        self.id
    }
}

fn main() {
    let _ = Account { id: 1 }.id();
}
