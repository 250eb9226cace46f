//! The generated files against the programs that read them.

mod alerts;
mod deploy;
mod full_stack;
