//! Log output kept in memory: a `MakeWriter` for `rustform::trace::subscriber_with_writer`.

use std::io;
use std::sync::{Arc, Mutex};

use rustform::trace::MakeWriter;
use serde_json::Value;

/// What the log layer wrote, shared by every writer it makes.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    /// Every line, parsed: each must be one JSON object.
    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| {
                let value: Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
                assert!(value.is_object(), "{line}");
                value
            })
            .collect()
    }

    /// The line whose message is `message`.
    pub fn line(&self, message: &str) -> Value {
        self.lines()
            .into_iter()
            .find(|l| l["fields"]["message"] == message)
            .unwrap_or_else(|| panic!("no line {message:?} in\n{}", self.text()))
    }
}
