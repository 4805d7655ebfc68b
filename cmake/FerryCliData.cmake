# The data `ferry new` writes: its templates (src/cli/templates/) and Ferry's
# WIT packages (wit/), compiled into the `ferry` binary by
# FerryEmbedFiles.cmake, so an installed ferry needs no data files.
file(GLOB_RECURSE FERRY_CLI_DATA CONFIGURE_DEPENDS RELATIVE ${PROJECT_SOURCE_DIR}
  ${PROJECT_SOURCE_DIR}/src/cli/templates/* ${PROJECT_SOURCE_DIR}/wit/*.wit)
list(SORT FERRY_CLI_DATA)
list(JOIN FERRY_CLI_DATA "\n" ferry_cli_data_text)
set(ferry_cli_data_list ${CMAKE_BINARY_DIR}/embedded_files.list)
file(CONFIGURE OUTPUT ${ferry_cli_data_list} CONTENT "${ferry_cli_data_text}\n")
list(TRANSFORM FERRY_CLI_DATA PREPEND ${PROJECT_SOURCE_DIR}/ OUTPUT_VARIABLE ferry_cli_data_abs)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/embedded_files.cc
  COMMAND ${CMAKE_COMMAND} -DOUT=${CMAKE_BINARY_DIR}/embedded_files.cc -DROOT=${PROJECT_SOURCE_DIR}
          -DLIST=${ferry_cli_data_list} -P ${PROJECT_SOURCE_DIR}/cmake/FerryEmbedFiles.cmake
  DEPENDS ${ferry_cli_data_abs} ${ferry_cli_data_list} ${PROJECT_SOURCE_DIR}/cmake/FerryEmbedFiles.cmake
  COMMENT "embedding ferry new's templates and the WIT")
target_sources(ferry PRIVATE ${CMAKE_BINARY_DIR}/embedded_files.cc)
