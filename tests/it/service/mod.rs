//! rustform inside a service: `init()`, shutdown, the layer in the program's own registry, logs.

mod graceful_shutdown;
mod init;
mod layer;
mod logs;
