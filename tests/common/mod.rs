//! Helpers shared by the integration tests: files the tests make themselves,
//! Parquet read-back and seeded random data.
#![allow(dead_code)]

mod rng;
pub mod video;

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub fn photos_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/photos")
}

pub fn photo(name: &str) -> Vec<u8> {
    std::fs::read(photos_dir().join(name)).unwrap()
}

/// All rows of a Parquet file as one batch (tests only read small files).
pub fn read_parquet(path: &Path) -> RecordBatch {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let mut batches = builder.with_batch_size(1 << 24).build().unwrap().map(|b| b.unwrap());
    let batch = batches.next().unwrap_or_else(|| RecordBatch::new_empty(schema));
    assert!(batches.next().is_none());
    batch
}

pub fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    use arrow_array::cast::AsArray;
    let col = batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
    col.as_string::<i32>().iter().map(|v| v.map(str::to_string)).collect()
}

/// CRC-32 (IEEE) for hand-made PNG chunks.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A syntactically valid PNG whose header claims `w x h` pixels but whose
/// data is a few bytes: the classic decompression bomb shape.
pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    // zlib stream of a few zero bytes.
    chunk(b"IDAT", &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

/// A small valid PNG of a solid colour.
pub fn png_solid(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// The device GPU tests run on, opened once per test binary. Without an
/// adapter the tests skip with the reason printed, unless
/// `PIXTAPE_REQUIRE_GPU=1` (CI sets it) turns that into a failure.
pub fn gpu() -> Option<&'static pixtape::engine::gpu::Gpu> {
    gpu_backend().and_then(|b| b.gpu())
}

/// The GPU backend (model and matcher on the adapter), as `gpu()` opens it.
pub fn gpu_backend() -> Option<&'static pixtape::engine::backend::Backend> {
    use pixtape::engine::backend::{Backend, DeviceChoice};
    use std::sync::OnceLock;
    static GPU: OnceLock<Result<Backend, String>> = OnceLock::new();
    let opened = GPU.get_or_init(|| {
        Backend::open(DeviceChoice::Gpu)
            .map_err(|e| e.to_string())
            .and_then(|b| if b.gpu().is_some() { Ok(b) } else { Err("no adapter".to_string()) })
    });
    match opened {
        Ok(backend) => Some(backend),
        Err(e) if std::env::var("PIXTAPE_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("PIXTAPE_REQUIRE_GPU=1 but no GPU adapter: {e}")
        }
        Err(e) => {
            eprintln!("skipping a GPU test: {e}");
            None
        }
    }
}

// Not every test draws random data.
#[allow(unused_imports)]
pub use rng::Rng;

/// max |a - b| / max |b|: the relative tolerance unit of kernel tests.
pub fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-30);
    a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

const GOLDEN: &[u8] = include_bytes!("../../models/golden/mobilenet_v2_golden.safetensors");

/// (name, 224x224 RGB crop, logits) of each photo in the golden file made by
/// `models/golden.py` (numpy, float64, straight from the checkpoint).
pub fn golden() -> Vec<(String, Vec<u8>, Vec<f32>)> {
    use safetensors::SafeTensors;
    let st = SafeTensors::deserialize(GOLDEN).unwrap();
    let mut names: Vec<String> =
        st.names().iter().filter_map(|n| n.strip_suffix(".input").map(str::to_string)).collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let input = st.tensor(&format!("{name}.input")).unwrap().data().to_vec();
            let logits = st
                .tensor(&format!("{name}.logits"))
                .unwrap()
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            (name, input, logits)
        })
        .collect()
}

/// Runs the CPU engine at `precision` on the golden crops, and holds each
/// photo to the golden top-1 class and to logits within `tolerance`
/// (relative error) of the golden ones.
pub fn engine_keeps_golden(precision: pixtape::engine::model::precision::Precision, tolerance: f32) {
    use pixtape::engine::model::{self, FEATURE_DIM, MobileNetV2, NUM_CLASSES, cpu::CpuEngine};
    let net = MobileNetV2::embedded().unwrap();
    let projection = pixtape::engine::mood::head::MoodHead::embedded().unwrap().feature_projection();
    let engine = CpuEngine::with_precision(&net, &projection, precision);
    let cases = golden();
    let crops: Vec<u8> = cases.iter().flat_map(|c| c.1.iter().copied()).collect();
    let n = cases.len();
    let mut features = vec![0.0; n * FEATURE_DIM];
    let mut logits = vec![0.0; n * NUM_CLASSES];
    engine.forward_batch(&crops, n, &mut features, &mut logits);
    for (i, (name, _, want)) in cases.iter().enumerate() {
        let got = &logits[i * NUM_CLASSES..(i + 1) * NUM_CLASSES];
        let err = rel_err(got, want);
        println!("{name}: {precision:?} logits relative error {err:.2e}");
        assert!(err <= tolerance, "{name}: {precision:?} logits differ from golden by {err:.2e}");
        assert_eq!(model::top_k(got, 1), model::top_k(want, 1), "{name}: {precision:?} top-1 differs from golden");
    }
}

/// A convolution with seeded random weights and bias (never zeros), for
/// the kernel tests.
pub fn random_conv(
    rng: &mut Rng,
    in_ch: usize,
    out_ch: usize,
    kernel: usize,
    stride: usize,
    depthwise: bool,
) -> pixtape::engine::model::Conv {
    let per_out = if depthwise { 1 } else { in_ch };
    pixtape::engine::model::Conv {
        name: "test".into(),
        in_ch,
        out_ch,
        kernel,
        stride,
        depthwise,
        weight: rng.vec(out_ch * per_out * kernel * kernel, 0.5),
        bias: rng.vec(out_ch, 0.5),
    }
}

/// `model::reference::conv2d` (plus ReLU6) of NHWC `images x side x side`
/// input, back in NHWC: the plain result the kernel tests compare with.
pub fn reference_conv(
    x: &[f32],
    images: usize,
    side: usize,
    c: &pixtape::engine::model::Conv,
    relu6: bool,
) -> Vec<f32> {
    use pixtape::engine::model::reference::{self, Chw, chw_to_nhwc, nhwc_to_chw};
    let out: Vec<Chw> = nhwc_to_chw(x, images, side, c.in_ch)
        .iter()
        .map(|img| {
            let mut y = reference::conv2d(img, c);
            if relu6 {
                reference::relu6(&mut y);
            }
            y
        })
        .collect();
    chw_to_nhwc(&out)
}

const FACES_GOLDEN: &[u8] = include_bytes!("../../models/golden/faces_golden.safetensors");

/// One photo of `models/golden_faces.py`'s golden file (numpy, float64,
/// straight from face-api's weights).
pub struct FaceGolden {
    pub name: String,
    /// Width and height of the face frame.
    pub frame: (usize, usize),
    /// The (416, 1.0) pass's input and raw output, for photos with faces.
    pub input416: Option<(Vec<u8>, Vec<f32>)>,
    /// (x, y, w, h, score) in frame pixels, strongest first.
    pub boxes: Vec<[f32; 5]>,
    /// 112x112 RGB crops and their probabilities in face-api's order.
    pub crops: Vec<Vec<u8>>,
    pub expressions: Vec<[f32; 7]>,
}

pub fn faces_golden() -> Vec<FaceGolden> {
    use safetensors::SafeTensors;
    let st = SafeTensors::deserialize(FACES_GOLDEN).unwrap();
    let f32s = |name: &str| -> Vec<f32> {
        st.tensor(name).unwrap().data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
    };
    let mut names: Vec<String> =
        st.names().iter().filter_map(|n| n.strip_suffix(".frame_size").map(str::to_string)).collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let size = f32s(&format!("{name}.frame_size"));
            let input416 = st
                .tensor(&format!("{name}.input416"))
                .ok()
                .map(|t| (t.data().to_vec(), f32s(&format!("{name}.raw416"))));
            let boxes = f32s(&format!("{name}.boxes")).chunks_exact(5).map(|b| b.try_into().unwrap()).collect();
            let crops = st
                .tensor(&format!("{name}.crops"))
                .unwrap()
                .data()
                .chunks_exact(112 * 112 * 3)
                .map(<[u8]>::to_vec)
                .collect();
            let expressions =
                f32s(&format!("{name}.expressions")).chunks_exact(7).map(|b| b.try_into().unwrap()).collect();
            FaceGolden { name, frame: (size[0] as usize, size[1] as usize), input416, boxes, crops, expressions }
        })
        .collect()
}
