// Routes a guest's stdout and stderr into Ferry's log, one line at a time,
// tagged with the component's name.
#pragma once

#include <string>

#include <wasmtime.hh>

namespace ferry::wasm {

// Configures `wasi` so the guest's output lands in the log. Nothing else of
// WASI is granted: no files, network, environment or arguments.
void RouteGuestOutput(wasmtime::WasiConfig& wasi, const std::string& component_name);

}  // namespace ferry::wasm
