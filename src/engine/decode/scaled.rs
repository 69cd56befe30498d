//! The reduced-size path: a large JPEG decoded at 1/2, 1/4 or 1/8 scale in
//! the DCT domain, as Pillow's `draft` does, by this crate's
//! coefficient-skipping decoder (`reduced`) where it can and libjpeg-turbo
//! otherwise. Anything odd hands the file to the full-size path (`full`).

use image::metadata::Orientation;

use super::limits::check_size;
use super::{Decoder, RESIZE_SHORT, reduced};
use crate::error::Failure;

impl Decoder {
    /// A large JPEG decoded at reduced scale in the DCT domain, into
    /// `self.raw`: at 1/8 and 1/4 by this crate's coefficient-skipping
    /// decoder for the JPEGs it takes (baseline, YCbCr or grey, one scan:
    /// what cameras and phones write), otherwise by libjpeg-turbo (the
    /// `mozjpeg` crate). `None` when the image is too small to reduce, or
    /// when libjpeg reports anything at all, a warning included (a damaged
    /// or truncated file, CMYK): the full-size path then decodes it, or says
    /// what is wrong, exactly as without reduction.
    pub(super) fn decode_jpeg_scaled(&mut self, bytes: &[u8]) -> Result<Option<Scaled>, Failure> {
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
}

/// The DCT-domain reduction for a `w`×`h` JPEG: the largest of 8, 4 and 2
/// that keeps the short side at `RESIZE_SHORT` or more.
pub(super) fn reduction(w: usize, h: usize) -> Option<usize> {
    [8, 4, 2].into_iter().find(|f| w.min(h) / f >= RESIZE_SHORT)
}

/// A JPEG decoded at reduced scale: `w`×`h` pixels of a `full_w`×`full_h` image.
pub(super) struct Scaled {
    pub w: usize,
    pub h: usize,
    pub full_w: usize,
    pub full_h: usize,
    pub orientation: Orientation,
}

pub(super) enum Reduced {
    Done(Scaled),
    TooSmall,
    Refused(Failure),
}

/// libjpeg's error manager with every message fatal: an error, or a warning
/// about damaged data (which libjpeg would otherwise paper over with grey),
/// unwinds out of the decode, and the full-size path takes the file.
pub(super) fn strict_errors() -> mozjpeg_sys::jpeg_error_mgr {
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
