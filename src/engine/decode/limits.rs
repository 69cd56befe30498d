//! What a decode refuses, and how it says so: the limits that keep one
//! hostile file (a decompression bomb, a huge or growing file) from taking
//! the machine down, and the failures and reasons every decode path reports
//! into the errors table.

use crate::error::{Failure, Stage};

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

pub(super) fn read_failure(reason: impl Into<String>) -> Failure {
    Failure::new(Stage::Read, reason)
}

pub(super) fn decode_failure(reason: impl Into<String>) -> Failure {
    Failure::new(Stage::Decode, reason)
}

/// Refuses an image with no pixels or more than the limit allows.
pub(super) fn check_size(limits: &DecodeLimits, w: u64, h: u64) -> Result<(), Failure> {
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

pub(super) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "file not found".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

pub(super) fn decode_reason(format: &str, e: &image::ImageError) -> String {
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
