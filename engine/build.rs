// Publishes the C API header folder (with the generated `wasmtime/conf.h`) to
// the CMake build, which reads it from the file written below.
fn main() {
    let include = std::env::var("DEP_WASMTIME_C_API_INCLUDE")
        .expect("wasmtime-c-api-impl did not publish its include folder");
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    // OUT_DIR is target/<profile>/build/ferry-engine-<hash>/out; the header
    // path goes next to the archive so CMake can find it at a fixed place.
    let profile_dir = out.ancestors().nth(3).unwrap().to_path_buf();
    std::fs::write(profile_dir.join("ferry-engine-include.txt"), &include).unwrap();
    println!("cargo:include={include}");
    println!("cargo:rerun-if-changed=build.rs");
}
