# ferry_add_component(<name> WORLD <world> SOURCES <files...> [WIT <dir>] [DEFINES <d>...]
#                     [BINDGEN_ARGS <arg>...] [CXX] [CORE_ONLY])
#
# Builds a WebAssembly component from C or C++ sources:
#   wit-bindgen c      → bindings for <world> of the WIT package in <dir>
#   clang --target=wasm32-wasi (Debian's wasi-libc, libc++ for CXX)
#                      → a reactor core module
#   wasm-tools component new --adapt (WASI preview-1 reactor adapter)
#                      → ${CMAKE_BINARY_DIR}/components/<name>.wasm
# WIT defaults to the newest wasi:messaging draft in wit/. BINDGEN_ARGS go
# to wit-bindgen (e.g. `--sync all`: async WIT functions lifted and lowered
# synchronously). CORE_ONLY stops
# after the core module (for tests that need one). Every component joins the
# target named by FERRY_COMPONENT_GROUP (set per folder).

find_program(FERRY_WASM_CC NAMES clang-14 clang)
find_program(FERRY_WASM_CXX NAMES clang++-14 clang++)
find_program(FERRY_WIT_BINDGEN wit-bindgen HINTS $ENV{HOME}/.cargo/bin)
find_program(FERRY_WASM_TOOLS wasm-tools HINTS $ENV{HOME}/.cargo/bin)
# Debian's wasi-libc lives under /usr; elsewhere (wasi-sdk, Homebrew) point
# this at its sysroot.
set(FERRY_WASI_SYSROOT "/usr" CACHE PATH "wasm32-wasi sysroot (wasi-libc, libc++)")
set(FERRY_WASI_ADAPTER "$ENV{HOME}/.cache/ferry/wasi_snapshot_preview1.reactor.wasm"
    CACHE FILEPATH "WASI preview-1 reactor adapter (written by scripts/setup.sh)")
foreach(tool FERRY_WASM_CC FERRY_WASM_CXX FERRY_WIT_BINDGEN FERRY_WASM_TOOLS)
  if(NOT ${tool})
    message(FATAL_ERROR "${tool} not found: run scripts/setup.sh, or configure with -DFERRY_BUILD_GUESTS=OFF")
  endif()
endforeach()
if(NOT EXISTS ${FERRY_WASI_ADAPTER})
  message(FATAL_ERROR "${FERRY_WASI_ADAPTER} is missing: run scripts/setup.sh")
endif()

set(FERRY_COMPONENT_OUT ${CMAKE_BINARY_DIR}/components)
set(FERRY_DEFAULT_WIT ${PROJECT_SOURCE_DIR}/wit/messaging-0.2.0-draft)

function(ferry_add_component name)
  cmake_parse_arguments(arg "CXX;CORE_ONLY" "WORLD;WIT" "SOURCES;DEFINES;BINDGEN_ARGS" ${ARGN})
  if(NOT arg_WIT)
    set(arg_WIT ${FERRY_DEFAULT_WIT})
  endif()
  string(REPLACE "-" "_" world_c ${arg_WORLD})
  set(gen ${CMAKE_CURRENT_BINARY_DIR}/${name}-bindings)
  file(GLOB_RECURSE wit_files CONFIGURE_DEPENDS ${arg_WIT}/*.wit)
  add_custom_command(
    OUTPUT ${gen}/${world_c}.c ${gen}/${world_c}.h ${gen}/${world_c}_component_type.o
    COMMAND ${FERRY_WIT_BINDGEN} c ${arg_WIT} --world ${arg_WORLD} ${arg_BINDGEN_ARGS} --out-dir ${gen} > /dev/null
    DEPENDS ${wit_files}
    COMMENT "wit-bindgen ${arg_WORLD} for ${name}")

  set(common_flags --target=wasm32-wasi --sysroot=${FERRY_WASI_SYSROOT} -O2 -I${gen} -Wall)
  foreach(def ${arg_DEFINES})
    list(APPEND common_flags -D${def})
  endforeach()
  set(objects)
  set(index 0)
  foreach(src ${arg_SOURCES} ${gen}/${world_c}.c)
    get_filename_component(src_abs ${src} ABSOLUTE)
    get_filename_component(src_name ${src} NAME)
    math(EXPR index "${index} + 1")
    set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}-obj/${index}-${src_name}.o)
    if(src_name MATCHES "\\.(cc|cpp)$")
      set(compiler ${FERRY_WASM_CXX} -std=c++20 -fno-exceptions)
    else()
      set(compiler ${FERRY_WASM_CC} -std=c11)
    endif()
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/${name}-obj
      COMMAND ${compiler} ${common_flags} -c ${src_abs} -o ${obj}
      DEPENDS ${src_abs} ${gen}/${world_c}.h
      COMMENT "wasm32 compile ${src_name} (${name})")
    list(APPEND objects ${obj})
  endforeach()

  set(linker ${FERRY_WASM_CC})
  set(link_libs)
  if(arg_CXX)
    set(linker ${FERRY_WASM_CXX})
    set(link_libs -lc++ -lc++abi)
  endif()
  set(core ${CMAKE_CURRENT_BINARY_DIR}/${name}.core.wasm)
  add_custom_command(
    OUTPUT ${core}
    COMMAND ${linker} --target=wasm32-wasi --sysroot=${FERRY_WASI_SYSROOT} -mexec-model=reactor -O2
            -o ${core} ${objects} ${gen}/${world_c}_component_type.o ${link_libs}
    DEPENDS ${objects} ${gen}/${world_c}_component_type.o
    COMMENT "wasm32 link ${name}")

  if(arg_CORE_ONLY)
    set(out ${FERRY_COMPONENT_OUT}/${name}.wasm)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E copy ${core} ${out}
      DEPENDS ${core})
  else()
    set(out ${FERRY_COMPONENT_OUT}/${name}.wasm)
    add_custom_command(
      OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${FERRY_COMPONENT_OUT}
      COMMAND ${FERRY_WASM_TOOLS} component new ${core}
              --adapt wasi_snapshot_preview1=${FERRY_WASI_ADAPTER} -o ${out}
      DEPENDS ${core} ${FERRY_WASI_ADAPTER}
      COMMENT "component ${name}.wasm")
  endif()
  add_custom_target(${name} DEPENDS ${out})
  if(FERRY_COMPONENT_GROUP)
    add_dependencies(${FERRY_COMPONENT_GROUP} ${name})
  endif()
endfunction()
