# `cmake --install`: the `ferry` command; the library (libferry.a, with the
# engine's libferry_engine.a beside it); the public headers (include/ferry/);
# a CMake package, find_package(Ferry) giving Ferry::ferry; and a
# pkg-config file, ferry.pc. Both describe the libraries a static libferry
# needs at link time: spdlog, fmt, toml++, cpp-httplib (the metrics
# listener), OpenSSL (the gateway's TLS) and each broker adapter's client
# library that was built in.
include(GNUInstallDirs)
set_target_properties(ferry_lib PROPERTIES OUTPUT_NAME ferry)

set(FERRY_PC_MODULES spdlog fmt tomlplusplus cpp-httplib openssl)
foreach(pair NATS:libnats MQTT:libmosquitto REDIS:hiredis RABBITMQ:librabbitmq KAFKA:rdkafka)
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 upper)
  list(GET pair 1 module)
  if(FERRY_WITH_${upper})
    list(APPEND FERRY_PC_MODULES ${module})
  endif()
endforeach()
list(JOIN FERRY_PC_MODULES " " FERRY_PC_REQUIRES)
set(FERRY_PC_SYSTEM_LIBS "-pthread -ldl -lm -lrt")

install(TARGETS ferry RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ferry_lib ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES $<TARGET_PROPERTY:ferry_engine_archive,IMPORTED_LOCATION>
        DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ferry DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

configure_file(${PROJECT_SOURCE_DIR}/cmake/ferry.pc.in ${CMAKE_BINARY_DIR}/ferry.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/ferry.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

include(CMakePackageConfigHelpers)
configure_file(${PROJECT_SOURCE_DIR}/cmake/FerryConfig.cmake.in
               ${CMAKE_BINARY_DIR}/FerryConfig.cmake @ONLY)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/FerryConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/FerryConfig.cmake ${CMAKE_BINARY_DIR}/FerryConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Ferry)
