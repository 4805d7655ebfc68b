// Registers the host side of each wasi:messaging shape on a component linker.
#pragma once

#include <string_view>

#include "ferry/result.h"
#include "wasm/glue.h"
#include "wasm/host_state.h"

namespace ferry::wasm {

// A host function body: reads `args`, writes `results`. Returning an error
// traps the guest; errors the guest should see go into `results` instead.
using HostFn = Status (*)(HostState& state, wasmtime::Store::Context cx,
                          wasmtime::Span<wc::Val> args, wasmtime::Span<wc::Val> results);

// Defines `name` on `instance` as `fn`.
Status Define(wc::LinkerInstance& instance, std::string_view name, HostFn fn);
// Defines a host resource type whose guest-side drop runs `on_drop(state, rep)`.
Status DefineResource(wc::LinkerInstance& instance, std::string_view name, std::uint32_t type,
                      void (*on_drop)(HostState&, std::uint32_t rep));

// Looks up a borrowed or owned host resource argument of the given type.
Result<std::uint32_t> ResourceRep(wasmtime::Store::Context cx, const wc::Val& val,
                                  std::uint32_t type);
// Hands a new owned host resource to the guest.
Result<wc::Val> OwnedResource(wasmtime::Store::Context cx, std::uint32_t rep, std::uint32_t type);

// wasi:messaging@0.2.0-draft (July 2025): types, producer, request-reply.
Status AddDraft2025(wc::Linker& linker);

// wasi:messaging 0.1.0-style interfaces at `version`: "0.1.0", or
// "0.2.0-draft" for the February 2024 publication of the same interfaces.
Status AddV010(wc::Linker& linker, std::string_view version);

}  // namespace ferry::wasm
