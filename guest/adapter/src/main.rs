//! Usage: ferry-wasi-adapter OUT.wasm
//! Writes the reactor flavour of the WASI preview-1 adapter, which
//! `wasm-tools component new --adapt` uses to make guests into components.
use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

fn main() {
    let Some(out) = std::env::args().nth(1) else {
        eprintln!("usage: ferry-wasi-adapter OUT.wasm");
        std::process::exit(2);
    };
    if let Err(e) = std::fs::write(&out, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER) {
        eprintln!("ferry-wasi-adapter: cannot write {out}: {e}");
        std::process::exit(1);
    }
}
