# Builds Wasmtime's C API from crates.io through the small crate in engine/
# and exposes it as the imported target ferry::engine.
#
# Cargo's target directory lives outside the checkout so that rebuilds are
# incremental across build folders; a fresh machine builds it from nothing.
set(FERRY_CARGO_TARGET_DIR "$ENV{HOME}/.cache/ferry/cargo-target" CACHE PATH
    "Cargo target directory for the Wasmtime engine crate")
find_program(CARGO cargo HINTS $ENV{HOME}/.cargo/bin REQUIRED)

set(_engine_dir ${CMAKE_CURRENT_SOURCE_DIR}/engine)
set(_engine_out ${FERRY_CARGO_TARGET_DIR}/release)
set(_engine_lib ${_engine_out}/libferry_engine.a)
set(_engine_cmd ${CMAKE_COMMAND} -E env CARGO_TARGET_DIR=${FERRY_CARGO_TARGET_DIR}
    ${CARGO} build --release --locked --manifest-path ${_engine_dir}/Cargo.toml)

# The header folder is only known once cargo has run the crate's build
# script, so the first build happens at configure time.
if(NOT EXISTS ${_engine_lib} OR NOT EXISTS ${_engine_out}/ferry-engine-include.txt)
  message(STATUS "Building Wasmtime's C API with cargo (the first time takes a while)")
  execute_process(COMMAND ${_engine_cmd} RESULT_VARIABLE _rc)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "cargo could not build the engine crate in ${_engine_dir}")
  endif()
endif()
file(READ ${_engine_out}/ferry-engine-include.txt FERRY_ENGINE_INCLUDE)
string(STRIP "${FERRY_ENGINE_INCLUDE}" FERRY_ENGINE_INCLUDE)

# Later builds re-run cargo, which is quick when nothing changed.
add_custom_target(ferry_engine_cargo
  COMMAND ${_engine_cmd}
  BYPRODUCTS ${_engine_lib}
  WORKING_DIRECTORY ${_engine_dir}
  USES_TERMINAL
  COMMENT "cargo build (engine)")

add_library(ferry_engine_archive STATIC IMPORTED GLOBAL)
set_target_properties(ferry_engine_archive PROPERTIES IMPORTED_LOCATION ${_engine_lib})
add_library(ferry_engine INTERFACE)
target_include_directories(ferry_engine SYSTEM INTERFACE ${FERRY_ENGINE_INCLUDE})
target_link_libraries(ferry_engine INTERFACE ferry_engine_archive Threads::Threads dl m rt)
add_dependencies(ferry_engine ferry_engine_cargo)
add_library(ferry::engine ALIAS ferry_engine)
