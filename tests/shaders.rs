//! Every WGSL file the engine embeds parses and validates with naga, the
//! compiler wgpu runs, so a shader error fails here even on a machine with no
//! GPU adapter at all.

use pixtape::engine::gpu::shaders;

#[test]
fn every_shader_parses_and_validates() {
    let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/shaders"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "wgsl"))
        .count();
    assert_eq!(on_disk, shaders::ALL.len(), "a file in shaders/ is not registered in gpu::shaders::ALL");
    for shader in shaders::ALL {
        let module = naga::front::wgsl::parse_str(shader.source)
            .unwrap_or_else(|e| panic!("{}: {}", shader.name, e.emit_to_string(shader.source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {}", shader.name, e.emit_to_string(shader.source)));
        assert!(!module.entry_points.is_empty(), "{}: no entry point", shader.name);
    }
}
