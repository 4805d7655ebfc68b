# ferry_add_python_component(<name> WORLD <world> SOURCES <app.py> [<module.py>...] [WIT <dir>])
# ferry_add_js_component(<name> WORLD <world> SOURCES <app.js> [<module.js>...] [WIT <dir>])
#
# Builds a WebAssembly component from Python (componentize-py) or JavaScript
# (componentize-js, SpiderMonkey) sources, into
# ${CMAKE_BINARY_DIR}/components/<name>.wasm like ferry_add_component. The
# first source is the app: for Python the module that defines the exported
# interfaces' classes (e.g. `class IncomingHandler`), for JS the ES module
# that exports them (e.g. `export const incomingHandler`). The other sources
# are modules it imports. All are copied into one folder in the build tree,
# so the component holds only what is listed and the source tree gets no
# __pycache__. WIT defaults to the newest wasi:messaging draft; the
# component joins FERRY_COMPONENT_GROUP. Needs FerryComponent.cmake first.
#
# The tools are the versions scripts/setup.sh pins, installed under
# ~/.cache/ferry (a Python venv and an npm folder) rather than system-wide.

find_program(FERRY_COMPONENTIZE_PY componentize-py HINTS $ENV{HOME}/.cache/ferry/py/bin)
find_program(FERRY_NODE node)
find_program(FERRY_COMPONENTIZE_JS componentize-js HINTS $ENV{HOME}/.cache/ferry/js/node_modules/.bin)
foreach(tool FERRY_COMPONENTIZE_PY FERRY_NODE FERRY_COMPONENTIZE_JS)
  if(NOT ${tool})
    message(FATAL_ERROR "${tool} not found: run scripts/setup.sh, or configure with -DFERRY_BUILD_SCRIPT_GUESTS=OFF")
  endif()
endforeach()

function(_ferry_script_component kind name)
  cmake_parse_arguments(arg "" "WORLD;WIT" "SOURCES" ${ARGN})
  if(NOT arg_WORLD OR NOT arg_SOURCES)
    message(FATAL_ERROR "ferry_add_${kind}_component(${name}): WORLD and SOURCES are required")
  endif()
  if(NOT arg_WIT)
    set(arg_WIT ${FERRY_DEFAULT_WIT})
  endif()
  file(GLOB_RECURSE wit_files CONFIGURE_DEPENDS ${arg_WIT}/*.wit)
  set(sources)
  foreach(src ${arg_SOURCES})
    get_filename_component(src_abs ${src} ABSOLUTE)
    list(APPEND sources ${src_abs})
  endforeach()
  list(GET arg_SOURCES 0 app)
  get_filename_component(app ${app} NAME)
  set(stage ${CMAKE_CURRENT_BINARY_DIR}/${name}-src)
  set(out ${FERRY_COMPONENT_OUT}/${name}.wasm)

  if(kind STREQUAL "python")
    get_filename_component(module ${app} NAME_WE)
    set(build_cmd ${FERRY_COMPONENTIZE_PY} -d ${arg_WIT} -w ${arg_WORLD}
                  componentize -p ${stage} -o ${out} ${module} > /dev/null)
    set(tool componentize-py)
  else()
    # componentize-js's defaults, as a user would build: its "http" feature
    # (fetch) imports wasi:http/outgoing-handler and types, which Ferry
    # provides under the component's allow_http grants; "fetch-event"
    # exports wasi:http/incoming-handler, which Ferry ignores.
    set(build_cmd ${FERRY_NODE} ${FERRY_COMPONENTIZE_JS} ${stage}/${app}
                  --wit ${arg_WIT} --world-name ${arg_WORLD}
                  --out ${out} > /dev/null)
    set(tool componentize-js)
  endif()

  add_custom_command(
    OUTPUT ${out}
    # Cleared first so a source dropped from the list cannot linger.
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${stage}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${stage} ${FERRY_COMPONENT_OUT}
    COMMAND ${CMAKE_COMMAND} -E copy ${sources} ${stage}
    COMMAND ${build_cmd}
    DEPENDS ${sources} ${wit_files}
    COMMENT "${tool} ${name}.wasm")
  add_custom_target(${name} DEPENDS ${out})
  if(FERRY_COMPONENT_GROUP)
    add_dependencies(${FERRY_COMPONENT_GROUP} ${name})
  endif()
endfunction()

function(ferry_add_python_component name)
  _ferry_script_component(python ${name} ${ARGN})
endfunction()

function(ferry_add_js_component name)
  _ferry_script_component(js ${name} ${ARGN})
endfunction()
