// Instances of the async shape (WASI 0.3): many handle calls in flight on
// one instance at once (GuestInstance::Start), the guest's broker
// operations run without holding any thread of the instance.
#pragma once

#include <memory>

#include "wasm/engine.h"
#include "wasm/engine_abi.h"
#include "wasm/guest.h"

namespace ferry::wasm {

// A fresh instance of `pre` (linked for FE_SHAPE_DRAFT_ASYNC) on a thread
// of its own.
Result<std::unique_ptr<GuestInstance>> MakeAsyncInstance(const Engine& engine, const fe_pre& pre,
                                                         std::shared_ptr<const GuestServices> services);

}  // namespace ferry::wasm
