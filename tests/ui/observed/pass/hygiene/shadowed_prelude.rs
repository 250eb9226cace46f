//! A scope that shadows the prelude, `core`, `std`, `tracing` and `rustform` itself around
//! observed functions: the expansion names everything by absolute paths and still works.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

/// Shadows with unit structs and empty modules.
#[allow(dead_code, non_camel_case_types)]
mod structs {
    pub struct Result;
    pub struct Option;
    pub struct Box;
    pub struct Some;
    pub struct None;
    pub struct Ok;
    pub struct Err;
    pub struct Vec;
    pub struct String;
    pub struct Fn;
    pub struct FnOnce;
    pub struct Send;
    pub struct Sync;
    pub struct Sized;
    pub struct Future;
    pub struct Default;
    pub struct Drop;
    pub struct u64;
    pub struct f64;
    pub struct str;
    pub mod core {}
    pub mod std {}
    pub mod tracing {}
    pub mod rustform {}

    #[::rustform::observed(buckets = [0.5, 1.0], labels(tier = "gold"))]
    pub fn plain(n: u32) -> u32 {
        n + 1
    }

    #[::rustform::observed]
    pub fn own_result() -> Result {
        Result
    }

    #[::rustform::observed]
    pub async fn later(n: u32) -> u32 {
        n * 2
    }

    pub struct Service;

    #[::rustform::observed(track_concurrency, callers)]
    impl Service {
        pub fn handle(&self) -> u32 {
            plain(1)
        }
    }
}

/// Shadows with type aliases, as error-handling crates write them.
mod aliases {
    pub type Result<T> = ::std::result::Result<T, Error>;
    pub type Option<T> = ::std::vec::Vec<T>;
    pub type Box<T> = ::std::rc::Rc<T>;

    #[derive(Debug, ::rustform::ErrorLabel)]
    pub enum Error {
        Invalid,
    }

    #[::rustform::observed]
    pub fn check(n: u32) -> Result<u32> {
        if n == 0 { Err(Error::Invalid) } else { Ok(n) }
    }

    #[::rustform::observed]
    pub fn many(n: u32) -> Option<Box<u32>> {
        vec![Box::new(n)]
    }
}

fn main() {
    assert_eq!(structs::plain(1), 2);
    let structs::Result = structs::own_result();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(structs::later(2)), 4);
    assert_eq!(structs::Service.handle(), 2);
    assert_eq!(aliases::check(1).unwrap(), 1);
    assert!(aliases::check(0).is_err());
    assert_eq!(*aliases::many(3)[0], 3);

    let structs = format!("{}::structs", support::root());
    let aliases = format!("{}::aliases", support::root());
    assert_eq!(
        support::calls_in(&structs, "plain", "ok", &[("tier", "gold")]),
        2
    );
    assert_eq!(support::calls_in(&structs, "own_result", "ok", &[]), 1);
    assert_eq!(support::calls_in(&structs, "later", "ok", &[]), 1);
    assert_eq!(support::calls_in(&structs, "Service::handle", "ok", &[]), 1);
    assert_eq!(support::calls_in(&aliases, "check", "ok", &[]), 1);
    assert_eq!(
        support::calls_in(&aliases, "check", "error", &[("error", "invalid")]),
        1
    );
    assert_eq!(support::calls_in(&aliases, "many", "ok", &[]), 1);
}
