//! Compile-time behaviour of the macros: every accepted form compiles and runs
//! (`tests/ui/pass`), every mistake is a compile error with the checked-in message
//! (`tests/ui/fail`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
