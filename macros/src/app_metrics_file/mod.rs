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
use crate::ctxt::Ctxt;

pub(crate) fn expand(tokens: TokenStream) -> TokenStream {
    let input: Input = match syn::parse2(tokens) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let cx = Ctxt::new();
    if let Some(e) = &input.errors {
        cx.syn_error(e.clone());
    }
    let file = cx.ok(file::read(&input.path));
    if let Some(file) = &file {
        valid::check(&input.path, file, &cx);
    }
    match (file, cx.check()) {
        (Some(file), Ok(())) => expand::expand(&input, &file),
        (_, errors) => {
            let mut out = errors
                .err()
                .map(|e| e.to_compile_error())
                .unwrap_or_default();
            out.extend(expand::stub(&input));
            out
        }
    }
}
