//! What a file is: its format from its content (the extension only breaks
//! ties), the first bytes for messages about unknown ones, and whether a
//! JPEG stream is complete, which tells a truncated file from a damaged one.

use image::ImageFormat;

use super::limits::decode_failure;
use crate::error::Failure;

/// The format of a file's content, its name, and a warning when the
/// extension (`ext_format`) says otherwise; a format pixtape does not
/// decode is refused by name.
pub(super) fn sniff(
    bytes: &[u8],
    ext_format: Option<ImageFormat>,
) -> Result<(ImageFormat, &'static str, Option<String>), Failure> {
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
    Ok((format, name, warning))
}

pub(super) fn format_name(f: ImageFormat) -> Option<&'static str> {
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
pub(super) fn magic(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// Whether a JPEG stream reaches its end-of-image marker after the first
/// scan (inside entropy-coded data 0xFF is always stuffed or a restart
/// marker, so FF D9 there can only be the real end). `None` when the
/// segment structure itself is broken, so completeness cannot be told.
pub(super) fn jpeg_is_complete(bytes: &[u8]) -> Option<bool> {
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
