//! Decode stage: file bytes to the model's 224x224 crop and the colour
//! measures, following torchvision's evaluation transform.
//!
//! Per image: read the file into a reused buffer; sniff the format from the
//! content (the extension only breaks ties); check the header against the
//! limits *before* anything is allocated, so a decompression bomb is refused
//! rather than decoded; decode into a reused buffer; resize so the short side
//! is 256 (bilinear with antialiasing, as Pillow, via `fast_image_resize`);
//! apply the EXIF orientation to that small image; measure colour on the whole
//! resized frame; copy the centre 224x224 into the caller's batch slot. One
//! `Decoder` per worker thread owns every buffer, so steady state allocates
//! nothing per image beyond what the codecs do internally.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;

use fast_image_resize as fr;
use image::metadata::Orientation;
use image::{ColorType, ImageDecoder, ImageFormat, ImageReader};

use crate::engine::colour::{self, ColourFeatures};
use crate::engine::cues::FrameCues;
use crate::engine::faces::{self, Face};
use crate::engine::model::CROP_BYTES;
use crate::error::Failure;

mod frame;
mod full;
mod limits;
mod reduced;
mod scaled;
mod sniff;

use frame::to_rgb8;
pub use frame::{centre_crop, orient, resize_plan};
pub use limits::DecodeLimits;
use limits::{check_size, decode_failure, decode_reason, io_reason, read_failure};
use sniff::sniff;

/// Short side after the first resize (torchvision `Resize(256)`).
pub const RESIZE_SHORT: usize = 256;
/// The resized frame keeps at most this long:short ratio (the centre square,
/// all the model sees, is unaffected), so a 100000x10 strip cannot turn into
/// a multi-gigabyte resize.
pub(super) const MAX_ASPECT: usize = 4;
/// Buffers grown past this by one huge image are released afterwards, so a
/// single 100-megapixel photo does not pin its memory for the rest of a run.
const KEEP_BYTES: usize = 48 << 20;

/// What decoding learnt about one image besides its crop.
#[derive(Clone, Debug)]
pub struct DecodedInfo {
    /// Size after EXIF orientation.
    pub width: u32,
    pub height: u32,
    /// Detected from the content, lower case ("jpeg", "png", ...).
    pub format: &'static str,
    pub file_bytes: u64,
    pub colour: ColourFeatures,
    /// The frame's intensity cues.
    pub cues: FrameCues,
    /// Something odd but harmless, e.g. an extension that lies about the format.
    pub warning: Option<String>,
    /// The faces found in it, largest first (none when faces are off).
    pub faces: Vec<Face>,
}

/// Per-thread decoder with reusable buffers.
pub struct Decoder {
    limits: DecodeLimits,
    file: Vec<u8>,
    raw: Vec<u8>,
    rgb: Vec<u8>,
    resized: Vec<u8>,
    oriented: Vec<u8>,
    resizer: fr::Resizer,
    reduced: reduced::ReducedDecoder,
    /// Keep each image's face frame (see `face_frame`).
    keep_face_frame: bool,
    face_frame: Vec<u8>,
    face_dims: (usize, usize),
}

impl Decoder {
    pub fn new(limits: DecodeLimits) -> Self {
        Decoder {
            limits,
            file: Vec::new(),
            raw: Vec::new(),
            rgb: Vec::new(),
            resized: Vec::new(),
            oriented: Vec::new(),
            resizer: fr::Resizer::new(),
            reduced: reduced::ReducedDecoder::default(),
            keep_face_frame: false,
            face_frame: Vec::new(),
            face_dims: (0, 0),
        }
    }

    /// Also keep, per image, the frame faces are searched in: the whole
    /// decoded image, oriented, its long side at most `faces::FRAME_MAX`.
    pub fn with_face_frame(mut self) -> Self {
        self.keep_face_frame = true;
        self
    }

    /// The last decoded image's face frame (RGB8) and its size, when kept.
    pub fn face_frame(&self) -> Option<(&[u8], (usize, usize))> {
        (self.keep_face_frame && self.face_dims.0 > 0).then_some((&self.face_frame, self.face_dims))
    }

    /// Reads and decodes `path`, writing the normalisation-ready 224x224 RGB
    /// crop into `crop` (`CROP_BYTES` long).
    pub fn decode_file(&mut self, path: &Path, crop: &mut [u8]) -> Result<DecodedInfo, Failure> {
        self.read_file(path)?;
        let ext_format = path.extension().and_then(|e| e.to_str()).and_then(ImageFormat::from_extension);
        let bytes = std::mem::take(&mut self.file);
        let result = self.decode_bytes(&bytes, ext_format, crop);
        self.file = bytes;
        self.trim();
        result
    }

    fn read_file(&mut self, path: &Path) -> Result<(), Failure> {
        let meta = std::fs::metadata(path).map_err(|e| read_failure(io_reason(&e)))?;
        if meta.is_dir() {
            return Err(read_failure("is a directory, not a file"));
        }
        if meta.len() > self.limits.max_file_bytes {
            return Err(read_failure(format!(
                "file is {} MB, over the {} MB limit",
                meta.len() >> 20,
                self.limits.max_file_bytes >> 20
            )));
        }
        let mut f = File::open(path).map_err(|e| read_failure(io_reason(&e)))?;
        self.file.clear();
        // `take` guards against a file that grows while we read it.
        f.by_ref()
            .take(self.limits.max_file_bytes + 1)
            .read_to_end(&mut self.file)
            .map_err(|e| read_failure(io_reason(&e)))?;
        if self.file.len() as u64 > self.limits.max_file_bytes {
            return Err(read_failure("file grew past the size limit while being read"));
        }
        Ok(())
    }

    /// Decodes an in-memory file. `ext_format` is what the file name claims.
    pub fn decode_bytes(
        &mut self,
        bytes: &[u8],
        ext_format: Option<ImageFormat>,
        crop: &mut [u8],
    ) -> Result<DecodedInfo, Failure> {
        assert_eq!(crop.len(), CROP_BYTES);
        if bytes.is_empty() {
            return Err(decode_failure("empty file (0 bytes)"));
        }
        let (format, name, warning) = sniff(bytes, ext_format)?;
        if format == ImageFormat::Jpeg {
            if !self.limits.exact
                && let Some(s) = self.decode_jpeg_scaled(bytes)?
            {
                // The full-size image's resize plan, mapped onto the reduced
                // pixels: the model sees the exact path's size and framing.
                let full = (s.full_w, s.full_h);
                return self.finish_with(s.w, s.h, full, s.orientation, name, bytes.len() as u64, warning, crop);
            }
            let (w, h, orientation, jpeg_warning) = self.decode_jpeg(bytes)?;
            let warning = match (warning, jpeg_warning) {
                (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                (a, b) => a.or(b),
            };
            return self.finish(w, h, orientation, name, bytes.len() as u64, warning, crop);
        }
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(self.limits.max_pixels.saturating_mul(8).max(64 << 20));
        reader.limits(limits);
        let mut decoder = reader.into_decoder().map_err(|e| decode_failure(decode_reason(name, &e)))?;
        let (w, h) = decoder.dimensions();
        self.check_size(w as u64, h as u64)?;
        let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
        let color = decoder.color_type();
        let total = decoder.total_bytes() as usize;
        self.raw.clear();
        self.raw.resize(total, 0);
        decoder.read_image(&mut self.raw).map_err(|e| decode_failure(decode_reason(name, &e)))?;
        let (w, h) = (w as usize, h as usize);
        if color != ColorType::Rgb8 {
            to_rgb8(&self.raw, color, w * h, &mut self.rgb).map_err(decode_failure)?;
            std::mem::swap(&mut self.raw, &mut self.rgb);
        }
        self.finish(w, h, orientation, name, bytes.len() as u64, warning, crop)
    }

    /// Takes a frame that is already pixels (`w x h` RGB8, upright), such
    /// as a video frame FFmpeg decoded: the same resize, colour measures,
    /// cues, crop and face frame as a decoded file, so a frame reads as a
    /// photo of it would.
    pub fn decode_rgb(&mut self, rgb: &[u8], w: usize, h: usize, crop: &mut [u8]) -> Result<DecodedInfo, Failure> {
        assert_eq!(crop.len(), CROP_BYTES);
        if w == 0 || h == 0 || rgb.len() != w * h * 3 {
            return Err(decode_failure(format!("a {w}x{h} frame of {} bytes", rgb.len())));
        }
        self.check_size(w as u64, h as u64)?;
        self.raw.clear();
        self.raw.extend_from_slice(rgb);
        let result = self.finish(w, h, Orientation::NoTransforms, "video frame", rgb.len() as u64, None, crop);
        self.trim();
        result
    }

    fn check_size(&self, w: u64, h: u64) -> Result<(), Failure> {
        check_size(&self.limits, w, h)
    }

    /// Resizes, orients and measures the RGB8 image in `self.raw`.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        w: usize,
        h: usize,
        orientation: Orientation,
        name: &'static str,
        file_bytes: u64,
        warning: Option<String>,
        crop: &mut [u8],
    ) -> Result<DecodedInfo, Failure> {
        self.finish_with(w, h, (w, h), orientation, name, file_bytes, warning, crop)
    }

    /// `finish` for `w`×`h` pixels of an image stored at `full` size.
    #[allow(clippy::too_many_arguments)]
    fn finish_with(
        &mut self,
        w: usize,
        h: usize,
        full: (usize, usize),
        orientation: Orientation,
        name: &'static str,
        file_bytes: u64,
        warning: Option<String>,
        crop: &mut [u8],
    ) -> Result<DecodedInfo, Failure> {
        // Resize in the stored orientation, then orient the small result.
        let swaps = matches!(
            orientation,
            Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
        );
        let (ow, oh) = if swaps { (full.1, full.0) } else { full };
        let (src_box, (rw, rh)) = resize_plan(ow, oh);
        let (src_box, rw_s, rh_s) =
            if swaps { ((src_box.1, src_box.0, src_box.3, src_box.2), rh, rw) } else { (src_box, rw, rh) };
        // The plan is in the stored image's pixels; the decode may be smaller.
        // A DCT-scaled decode is ceil(full / f) pixels at exactly 1/f scale
        // (its last pixel covers less): map the box by 1/f, not by
        // w / full, and keep it inside the decode, which a box spanning the
        // whole image could pass by a rounding error (737 · 369/737 > 369).
        let scale = |decoded: usize, stored: usize| {
            let f = (stored as f64 / decoded as f64).round().max(1.0);
            if stored.div_ceil(f as usize) == decoded { 1.0 / f } else { decoded as f64 / stored as f64 }
        };
        let (kx, ky) = (scale(w, full.0), scale(h, full.1));
        let (left, top) = ((src_box.0 * kx).min(w as f64), (src_box.1 * ky).min(h as f64));
        let src_box = (left, top, (src_box.2 * kx).min(w as f64 - left), (src_box.3 * ky).min(h as f64 - top));
        self.resize(w, h, src_box, rw_s, rh_s).map_err(decode_failure)?;
        let frame = if orientation == Orientation::NoTransforms {
            &self.resized
        } else {
            orient(&self.resized, rw_s, rh_s, orientation, &mut self.oriented);
            &self.oriented
        };
        let colour = colour::analyse(frame, rw, rh);
        let cues = FrameCues::measure(frame, rw, rh);
        centre_crop(frame, rw, rh, crop);
        self.face_dims = (0, 0);
        if self.keep_face_frame {
            self.keep_face_frame(w, h, orientation).map_err(decode_failure)?;
        }
        let (width, height) = (ow as u32, oh as u32);
        Ok(DecodedInfo { width, height, format: name, file_bytes, colour, cues, warning, faces: Vec::new() })
    }

    /// Shrinks the whole decoded image in `raw` (`w x h`, stored
    /// orientation) to the face frame, then orients it.
    fn keep_face_frame(&mut self, w: usize, h: usize, orientation: Orientation) -> Result<(), String> {
        let (fw, fh) = faces::find::frame_size(w, h);
        let mut small = std::mem::take(&mut self.face_frame);
        if (fw, fh) == (w, h) {
            small.clear();
            small.extend_from_slice(&self.raw[..w * h * 3]);
        } else {
            faces::find::resize(&mut self.resizer, &self.raw, w, h, (0, 0, w, h), fw, fh, &mut small)
                .map_err(|e| e.to_string())?;
        }
        if orientation == Orientation::NoTransforms {
            self.face_frame = small;
            self.face_dims = (fw, fh);
        } else {
            orient(&small, fw, fh, orientation, &mut self.face_frame);
            let swaps = matches!(
                orientation,
                Orientation::Rotate90
                    | Orientation::Rotate270
                    | Orientation::Rotate90FlipH
                    | Orientation::Rotate270FlipH
            );
            self.face_dims = if swaps { (fh, fw) } else { (fw, fh) };
        }
        Ok(())
    }

    fn resize(
        &mut self,
        w: usize,
        h: usize,
        src_box: (f64, f64, f64, f64),
        rw: usize,
        rh: usize,
    ) -> Result<(), String> {
        let src = fr::images::ImageRef::new(w as u32, h as u32, &self.raw[..w * h * 3], fr::PixelType::U8x3)
            .map_err(|e| e.to_string())?;
        self.resized.clear();
        self.resized.resize(rw * rh * 3, 0);
        let mut dst = fr::images::Image::from_slice_u8(rw as u32, rh as u32, &mut self.resized, fr::PixelType::U8x3)
            .map_err(|e| e.to_string())?;
        let options = fr::ResizeOptions::new()
            .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear))
            .crop(src_box.0, src_box.1, src_box.2, src_box.3);
        self.resizer.resize(&src, &mut dst, &options).map_err(|e| e.to_string())
    }

    fn trim(&mut self) {
        for buf in [&mut self.file, &mut self.raw, &mut self.rgb] {
            if buf.capacity() > KEEP_BYTES {
                *buf = Vec::new();
            }
        }
        self.reduced.trim(KEEP_BYTES);
    }
}
