# Builds Ferry's engine (engine/, a Rust static library on Wasmtime's typed
# API) with cargo and exposes it as the imported target ferry::engine, whose
# one header is engine/include/ferry_engine.h.
#
# Cargo's target directory lives outside the checkout so that rebuilds are
# incremental across build folders; a fresh machine builds it from nothing.
set(FERRY_CARGO_TARGET_DIR "$ENV{HOME}/.cache/ferry/cargo-target" CACHE PATH
    "Cargo target directory for the engine crate")
find_program(CARGO cargo HINTS $ENV{HOME}/.cargo/bin REQUIRED)

set(_engine_dir ${CMAKE_CURRENT_SOURCE_DIR}/engine)
set(_engine_lib ${FERRY_CARGO_TARGET_DIR}/release/libferry_engine.a)
set(FERRY_ENGINE_CARGO ${CMAKE_COMMAND} -E env CARGO_TARGET_DIR=${FERRY_CARGO_TARGET_DIR}
    ${CARGO})

# cargo decides what is stale; it is quick when nothing changed.
add_custom_target(ferry_engine_cargo
  COMMAND ${FERRY_ENGINE_CARGO} build --release --locked --manifest-path ${_engine_dir}/Cargo.toml
  BYPRODUCTS ${_engine_lib}
  WORKING_DIRECTORY ${_engine_dir}
  USES_TERMINAL
  COMMENT "cargo build (engine)")

add_library(ferry_engine_archive STATIC IMPORTED GLOBAL)
set_target_properties(ferry_engine_archive PROPERTIES IMPORTED_LOCATION ${_engine_lib})
add_dependencies(ferry_engine_archive ferry_engine_cargo)
add_library(ferry_engine INTERFACE)
target_include_directories(ferry_engine SYSTEM INTERFACE ${_engine_dir}/include)
target_link_libraries(ferry_engine INTERFACE ferry_engine_archive Threads::Threads dl m rt)
add_dependencies(ferry_engine ferry_engine_cargo)
add_library(ferry::engine ALIAS ferry_engine)
