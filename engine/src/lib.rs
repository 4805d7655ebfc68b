//! Ferry links this static library to get Wasmtime's C API. Re-exporting the
//! crate keeps every `extern "C"` symbol of the C API in the archive.
pub use wasmtime_c_api::*;
