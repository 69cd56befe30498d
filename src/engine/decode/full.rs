//! The full-size JPEG path: zune-jpeg, strict first so that damage is
//! noticed, then lenient for a complete file with damaged data (reported
//! as a warning), as browsers and libjpeg decode it.

use image::metadata::Orientation;

use super::Decoder;
use super::limits::decode_failure;
use super::sniff::jpeg_is_complete;
use crate::error::Failure;

impl Decoder {
    /// JPEG through zune-jpeg directly, strict first, so a damaged file is
    /// noticed (the `image` crate runs zune leniently and fills holes with
    /// grey). A file that ends early is an error; a complete file whose
    /// headers or entropy data are damaged is decoded leniently, as browsers
    /// and libjpeg do, and reported as a warning.
    pub(super) fn decode_jpeg(&mut self, bytes: &[u8]) -> Result<(usize, usize, Orientation, Option<String>), Failure> {
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
}

pub(super) enum JpegError {
    /// Refused on principle (limits); retrying leniently would not help.
    Refused(Failure),
    /// Damaged data; the message is the decoder's.
    Damaged(String),
}
