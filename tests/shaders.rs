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
        validate(shader.name, shader.source, naga::valid::Capabilities::empty());
    }
}

/// The model kernels' f16 variants (the same files with `Act` as f16) are
/// valid where the adapter has f16, and only the model kernels have one.
#[test]
fn f16_variants_validate_with_f16_and_only_with_it() {
    let with: Vec<&str> = shaders::ALL.iter().filter(|s| s.has_storage_type()).map(|s| s.name).collect();
    assert_eq!(with, ["stem.wgsl", "pointwise.wgsl", "depthwise.wgsl", "pool.wgsl"]);
    for shader in shaders::ALL.iter().filter(|s| s.has_storage_type()) {
        let source = shader.source_for(shaders::Storage::F16);
        assert!(source.starts_with("enable f16;") && source.contains("alias Act = f16;"), "{}", shader.name);
        validate(shader.name, &source, naga::valid::Capabilities::SHADER_FLOAT16);
        let module = naga::front::wgsl::parse_str(&source).unwrap();
        let refused =
            naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
                .validate(&module);
        assert!(refused.is_err(), "{}: f16 validated without the capability", shader.name);
        assert_eq!(shader.source_for(shaders::Storage::F32), shader.source);
    }
}

fn validate(name: &str, source: &str, capabilities: naga::valid::Capabilities) {
    let module =
        naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    assert!(!module.entry_points.is_empty(), "{name}: no entry point");
}
