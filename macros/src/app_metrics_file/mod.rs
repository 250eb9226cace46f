//! `app_metrics!("rustform.yml")`: the file's `custom_metrics` as a typed struct.
//!
//! Parse the arguments ([`input`]), read and parse the file with the configuration crate
//! ([`file`]), check what the struct and the registry need beyond the schema ([`valid`]),
//! then generate ([`expand`]). Every problem is an error on the path literal, all at once.

mod expand;
mod file;
mod input;
mod valid;

use proc_macro2::TokenStream;

use self::input::Input;
use crate::buckets::combine;

pub(crate) fn expand(tokens: TokenStream) -> TokenStream {
    let input: Input = match syn::parse2(tokens) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = input.errors.clone();
    let file = match file::read(&input.path) {
        Ok(file) => match valid::check(&input.path, &file) {
            Ok(()) => Some(file),
            Err(e) => {
                combine(&mut errors, e);
                None
            }
        },
        Err(e) => {
            combine(&mut errors, e);
            None
        }
    };
    match (file, errors) {
        (Some(file), None) => expand::expand(&input, &file),
        (_, errors) => {
            let mut out = errors.map(|e| e.to_compile_error()).unwrap_or_default();
            out.extend(expand::stub(&input));
            out
        }
    }
}
