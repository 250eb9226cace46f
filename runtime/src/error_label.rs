//! [`ErrorLabel`]: the kind of an error (or of an ok value), as a metric label.

/// A short, fixed name for what kind of error (or ok value) this is, such as
/// `not_found` or `timeout`. `#[observed]` puts it in the `error` (or `ok`) label of
/// `function_calls_total`, so a dashboard can tell failures apart without parsing
/// messages.
///
/// Derive it on an enum: each variant's name in snake_case, or
/// `#[label(rename = "...")]`.
///
/// ```
/// use rustform::ErrorLabel;
///
/// #[derive(Debug, ErrorLabel)]
/// enum LoadError {
///     NotFound,
///     Database(String),
///     #[label(rename = "bad_input")]
///     Invalid { field: &'static str },
/// }
///
/// assert_eq!(LoadError::NotFound.label(), "not_found");
/// assert_eq!(LoadError::Database("down".into()).label(), "database");
/// assert_eq!(LoadError::Invalid { field: "id" }.label(), "bad_input");
/// ```
///
/// The labels must come from a fixed set (each is a `&'static str`): a label per error
/// message would create a series per message.
pub trait ErrorLabel {
    /// The label value.
    fn label(&self) -> &'static str;
}

impl<T: ErrorLabel + ?Sized> ErrorLabel for &T {
    fn label(&self) -> &'static str {
        (**self).label()
    }
}

impl<T: ErrorLabel + ?Sized> ErrorLabel for Box<T> {
    fn label(&self) -> &'static str {
        (**self).label()
    }
}

impl ErrorLabel for std::io::Error {
    /// The error's [`ErrorKind`](std::io::ErrorKind) in snake_case.
    fn label(&self) -> &'static str {
        self.kind().label()
    }
}

impl ErrorLabel for std::io::ErrorKind {
    fn label(&self) -> &'static str {
        use std::io::ErrorKind::*;
        match self {
            NotFound => "not_found",
            PermissionDenied => "permission_denied",
            ConnectionRefused => "connection_refused",
            ConnectionReset => "connection_reset",
            ConnectionAborted => "connection_aborted",
            NotConnected => "not_connected",
            AddrInUse => "addr_in_use",
            AddrNotAvailable => "addr_not_available",
            BrokenPipe => "broken_pipe",
            AlreadyExists => "already_exists",
            WouldBlock => "would_block",
            InvalidInput => "invalid_input",
            InvalidData => "invalid_data",
            TimedOut => "timed_out",
            WriteZero => "write_zero",
            Interrupted => "interrupted",
            Unsupported => "unsupported",
            UnexpectedEof => "unexpected_eof",
            OutOfMemory => "out_of_memory",
            _ => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_labeled_by_kind() {
        let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "slow");
        assert_eq!(e.label(), "timed_out");
        assert_eq!(Box::new(e).label(), "timed_out");
    }
}
