//! Tools around the engine and the run: `bench` (timings of every stage and
//! of whole runs on each device, with peers measured in the same process),
//! `synth` (synthetic photos and catalogs made by the project, for the
//! bundled default, the tests and the benches) and `inspect` (one image's
//! analysis and playlist, explained).

pub mod bench;
pub mod inspect;
pub mod synth;
