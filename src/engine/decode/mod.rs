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
use crate::engine::model::CROP_BYTES;
use crate::error::{Failure, Stage};

mod frame;
mod reduced;

use frame::to_rgb8;
pub use frame::{centre_crop, orient, resize_plan};

/// Short side after the first resize (torchvision `Resize(256)`).
pub const RESIZE_SHORT: usize = 256;
/// The resized frame keeps at most this long:short ratio (the centre square,
/// all the model sees, is unaffected), so a 100000x10 strip cannot turn into
/// a multi-gigabyte resize.
pub(super) const MAX_ASPECT: usize = 4;
/// Buffers grown past this by one huge image are released afterwards, so a
/// single 100-megapixel photo does not pin its memory for the rest of a run.
const KEEP_BYTES: usize = 48 << 20;

/// Limits that keep one hostile file from taking the machine down.
#[derive(Clone, Copy, Debug)]
pub struct DecodeLimits {
    /// Largest accepted image, in pixels (width x height).
    pub max_pixels: u64,
    /// Largest accepted file, in bytes.
    pub max_file_bytes: u64,
    /// Decode every JPEG at full size, as torchvision's transform does.
    /// Otherwise a JPEG whose short side is at least twice `RESIZE_SHORT`
    /// is decoded at 1/2, 1/4 or 1/8 scale in the DCT domain (the largest
    /// reduction that keeps the short side at `RESIZE_SHORT` or more), as
    /// Pillow's `draft` does, and then resized as usual.
    pub exact: bool,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits { max_pixels: 100_000_000, max_file_bytes: 1 << 30, exact: false }
    }
}

fn read_failure(reason: impl Into<String>) -> Failure {
    Failure::new(Stage::Read, reason)
}

fn decode_failure(reason: impl Into<String>) -> Failure {
    Failure::new(Stage::Decode, reason)
}

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
    /// Something odd but harmless, e.g. an extension that lies about the format.
    pub warning: Option<String>,
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
        }
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
        let sniffed = image::guess_format(bytes).ok();
        // Every supported format starts with a signature, so content that
        // matches none is not an image of the kind its name claims.
        let format = match (sniffed, ext_format) {
            (Some(f), _) => f,
            (None, Some(f)) => {
                return Err(decode_failure(format!(
                    "not a {} file: the content matches no image format (starts with {})",
                    format_name(f).unwrap_or(f.extensions_str()[0]),
                    magic(bytes)
                )));
            }
            (None, None) => {
                return Err(decode_failure(format!("unrecognised file format (starts with {})", magic(bytes))));
            }
        };
        let name = format_name(format).ok_or_else(|| {
            decode_failure(format!(
                "{} images are not supported (jpeg, png, webp, bmp, gif and tiff are)",
                format.extensions_str()[0]
            ))
        })?;
        let warning = match (sniffed, ext_format) {
            (Some(s), Some(e)) if s != e => Some(format!(
                "content is {} but the extension says {}; decoded as {}",
                name,
                format_name(e).unwrap_or(e.extensions_str()[0]),
                name
            )),
            _ => None,
        };

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

    /// JPEG through zune-jpeg directly, strict first, so a damaged file is
    /// noticed (the `image` crate runs zune leniently and fills holes with
    /// grey). A file that ends early is an error; a complete file whose
    /// headers or entropy data are damaged is decoded leniently, as browsers
    /// and libjpeg do, and reported as a warning.
    fn decode_jpeg(&mut self, bytes: &[u8]) -> Result<(usize, usize, Orientation, Option<String>), Failure> {
        let strict_err = match self.jpeg_pass(bytes, true) {
            Ok((w, h, o)) => return Ok((w, h, o, None)),
            Err(JpegError::Refused(f)) => return Err(f),
            Err(JpegError::Damaged(e)) => e,
        };
        if jpeg_is_complete(bytes) == Some(false) {
            return Err(decode_failure(format!("truncated jpeg data (no end-of-image marker): {strict_err}")));
        }
        match self.jpeg_pass(bytes, false) {
            Ok((w, h, o)) => {
                Ok((w, h, o, Some(format!("damaged jpeg ({strict_err}); decoded leniently, parts may be grey"))))
            }
            Err(JpegError::Refused(f)) => Err(f),
            Err(JpegError::Damaged(e)) => Err(decode_failure(format!("corrupt jpeg data: {e}"))),
        }
    }

    fn jpeg_pass(&mut self, bytes: &[u8], strict: bool) -> Result<(usize, usize, Orientation), JpegError> {
        use zune_core::bytestream::ZCursor;
        use zune_core::colorspace::ColorSpace;
        use zune_core::options::DecoderOptions;
        let options = DecoderOptions::default()
            .set_strict_mode(strict)
            .set_max_width(u16::MAX as usize)
            .set_max_height(u16::MAX as usize)
            .jpeg_set_out_colorspace(ColorSpace::RGB);
        let mut dec = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
        dec.decode_headers().map_err(|e| JpegError::Damaged(format!("{e:?}")))?;
        let (w, h) = dec.dimensions().ok_or_else(|| JpegError::Damaged("no frame header".into()))?;
        self.check_size(w as u64, h as u64).map_err(JpegError::Refused)?;
        let orientation =
            dec.exif().and_then(|exif| Orientation::from_exif_chunk(exif)).unwrap_or(Orientation::NoTransforms);
        self.raw.clear();
        self.raw.resize(w * h * 3, 0);
        dec.decode_into(&mut self.raw).map_err(|e| JpegError::Damaged(format!("{e:?}")))?;
        Ok((w, h, orientation))
    }

    /// A large JPEG decoded at reduced scale in the DCT domain, into
    /// `self.raw`: at 1/8 and 1/4 by this crate's coefficient-skipping
    /// decoder for the JPEGs it takes (baseline, YCbCr or grey, one scan:
    /// what cameras and phones write), otherwise by libjpeg-turbo (the
    /// `mozjpeg` crate). `None` when the image is too small to reduce, or
    /// when libjpeg reports anything at all, a warning included (a damaged
    /// or truncated file, CMYK): the full-size path then decodes it, or says
    /// what is wrong, exactly as without reduction.
    fn decode_jpeg_scaled(&mut self, bytes: &[u8]) -> Result<Option<Scaled>, Failure> {
        use mozjpeg::{Decompress, Marker};
        if let Ok(header) = reduced::parse(bytes) {
            let (w, h) = (header.width, header.height);
            self.check_size(w as u64, h as u64)?;
            match reduction(w, h) {
                None => return Ok(None),
                Some(factor @ (8 | 4)) => {
                    if let Ok((sw, sh)) = self.reduced.decode(&header, factor, &mut self.raw) {
                        let orientation = header.orientation;
                        return Ok(Some(Scaled { w: sw, h: sh, full_w: w, full_h: h, orientation }));
                    }
                }
                Some(_) => {}
            }
        }
        let raw = &mut self.raw;
        let limits = self.limits;
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> std::io::Result<Reduced> {
            let mut dec = Decompress::with_markers(&[Marker::APP(1)]).with_err(strict_errors()).from_mem(bytes)?;
            let (w, h) = (dec.width(), dec.height());
            if let Err(f) = check_size(&limits, w as u64, h as u64) {
                return Ok(Reduced::Refused(f));
            }
            let Some(factor) = reduction(w, h) else {
                return Ok(Reduced::TooSmall);
            };
            dec.scale((8 / factor) as u8);
            let orientation = dec
                .markers()
                .filter(|m| m.marker == Marker::APP(1))
                .find_map(|m| m.data.strip_prefix(b"Exif\0\0").and_then(Orientation::from_exif_chunk))
                .unwrap_or(Orientation::NoTransforms);
            let mut started = dec.rgb()?;
            let (sw, sh) = (started.width(), started.height());
            raw.clear();
            raw.resize(sw * sh * 3, 0);
            started.read_scanlines_into(&mut raw[..])?;
            started.finish()?;
            Ok(Reduced::Done(Scaled { w: sw, h: sh, full_w: w, full_h: h, orientation }))
        }));
        match attempt {
            Ok(Ok(Reduced::Done(s))) => Ok(Some(s)),
            Ok(Ok(Reduced::Refused(f))) => Err(f),
            _ => Ok(None),
        }
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
        centre_crop(frame, rw, rh, crop);
        Ok(DecodedInfo { width: ow as u32, height: oh as u32, format: name, file_bytes, colour, warning })
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

/// The DCT-domain reduction for a `w`×`h` JPEG: the largest of 8, 4 and 2
/// that keeps the short side at `RESIZE_SHORT` or more.
fn reduction(w: usize, h: usize) -> Option<usize> {
    [8, 4, 2].into_iter().find(|f| w.min(h) / f >= RESIZE_SHORT)
}

/// Refuses an image with no pixels or more than the limit allows.
fn check_size(limits: &DecodeLimits, w: u64, h: u64) -> Result<(), Failure> {
    let pixels = w * h;
    if pixels == 0 {
        return Err(decode_failure(format!("image has no pixels ({w}x{h})")));
    }
    if pixels > limits.max_pixels {
        return Err(decode_failure(format!(
            "image is {w}x{h} ({} megapixels), over the {} megapixel limit",
            pixels / 1_000_000,
            limits.max_pixels / 1_000_000
        )));
    }
    Ok(())
}

enum Reduced {
    Done(Scaled),
    TooSmall,
    Refused(Failure),
}

/// libjpeg's error manager with every message fatal: an error, or a warning
/// about damaged data (which libjpeg would otherwise paper over with grey),
/// unwinds out of the decode, and the full-size path takes the file.
fn strict_errors() -> mozjpeg_sys::jpeg_error_mgr {
    extern "C-unwind" fn fail(_: &mut mozjpeg_sys::jpeg_common_struct) {
        std::panic::resume_unwind(Box::new("libjpeg reported a problem"));
    }
    extern "C-unwind" fn warn(cinfo: &mut mozjpeg_sys::jpeg_common_struct, level: std::os::raw::c_int) {
        if level < 0 {
            fail(cinfo);
        }
    }
    // SAFETY: jpeg_std_error fills in a zeroed manager, as libjpeg expects.
    let mut err: mozjpeg_sys::jpeg_error_mgr = unsafe { std::mem::zeroed() };
    unsafe { mozjpeg_sys::jpeg_std_error(&mut err) };
    err.error_exit = Some(fail);
    err.emit_message = Some(warn);
    err
}

/// A JPEG decoded at reduced scale: `w`×`h` pixels of a `full_w`×`full_h` image.
struct Scaled {
    w: usize,
    h: usize,
    full_w: usize,
    full_h: usize,
    orientation: Orientation,
}

enum JpegError {
    /// Refused on principle (limits); retrying leniently would not help.
    Refused(Failure),
    /// Damaged data; the message is the decoder's.
    Damaged(String),
}

/// Whether a JPEG stream reaches its end-of-image marker after the first
/// scan (inside entropy-coded data 0xFF is always stuffed or a restart
/// marker, so FF D9 there can only be the real end). `None` when the
/// segment structure itself is broken, so completeness cannot be told.
fn jpeg_is_complete(bytes: &[u8]) -> Option<bool> {
    let mut i = 2;
    while i + 3 < bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        match marker {
            0xFF => i += 1,
            0xDA => return Some(bytes[i..].windows(2).any(|w| w == [0xFF, 0xD9])),
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => i += 2 + u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize,
        }
    }
    Some(false)
}

fn format_name(f: ImageFormat) -> Option<&'static str> {
    Some(match f {
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Png => "png",
        ImageFormat::WebP => "webp",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Gif => "gif",
        ImageFormat::Tiff => "tiff",
        _ => return None,
    })
}

/// The first bytes of a file, for error messages about unknown formats.
fn magic(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "file not found".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

fn decode_reason(format: &str, e: &image::ImageError) -> String {
    use image::ImageError as E;
    match e {
        E::Limits(l) => {
            format!("refused by decoder limits ({l}); the header promises more than allowed")
        }
        E::Unsupported(u) => format!("unsupported {format} variant: {u}"),
        E::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("truncated {format} data (file ends early)")
        }
        other => format!("corrupt or truncated {format} data: {other}"),
    }
}
