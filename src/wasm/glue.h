// Conversions between wasmtime's component values and Ferry's types. This is
// the only place that knows how a list<u8> or a metadata list looks as a
// wasmtime value, so a faster representation can replace it in one spot.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include <wasmtime.hh>
#include <wasmtime/component.hh>

#include "ferry/message.h"
#include "ferry/result.h"

namespace ferry::wasm {

namespace wc = wasmtime::component;

// The first line of a wasmtime error, prefixed with `context`.
Error FromWasmtime(const wasmtime::Error& error, std::string_view context);
// A host-side failure to report back to wasmtime (it becomes a trap).
wasmtime::Error ToWasmtime(const Error& error);

wc::Val BytesToVal(std::span<const std::uint8_t> bytes);
// Fails when `val` is not a list of u8 or is longer than `max_bytes`.
Result<Bytes> ValToBytes(const wc::Val& val, std::uint64_t max_bytes);

wc::Val MetadataToVal(const Metadata& metadata);
// A list<tuple<string, string>>; fails on any other shape or beyond `max_bytes`.
Result<Metadata> ValToMetadata(const wc::Val& val, std::uint64_t max_bytes);

wc::Val StringToVal(std::string_view s);
wc::Val OptionalString(const std::optional<std::string>& s);

}  // namespace ferry::wasm
