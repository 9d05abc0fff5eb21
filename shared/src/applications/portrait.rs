//! The portrait a signed licence carries: an approved photo decoded and re-encoded once, small and clean.
//!
//! ISO/IEC 18013-5 makes `portrait` mandatory and refers to ISO/IEC 18013-2 Annex D, which asks for at
//! least 192 x 240 pixels. Readers show the portrait at phone size, so the service signs a 3:4 portrait of
//! [`PORTRAIT_WIDTH`] x [`PORTRAIT_HEIGHT`] pixels as a baseline JPEG of at most [`MAX_PORTRAIT_BYTES`]:
//! enough for an officer to compare a face, small enough that the licence record stays far below DynamoDB's
//! 400 KB item limit (README, "Record sizes"). Decoding to pixels and encoding again drops everything a file
//! can carry besides its picture: EXIF (GPS positions, dates), comments, trailing HTML or ZIP payloads.

use super::photo::{self, ImageType, PhotoRules};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, Rgb, RgbImage};
use sha2::{Digest, Sha256};

/// The portrait's width in pixels.
pub const PORTRAIT_WIDTH: u32 = 360;
/// The portrait's height in pixels (3:4, as an ID photo).
pub const PORTRAIT_HEIGHT: u32 = 480;
/// The largest portrait the service signs, in bytes.
pub const MAX_PORTRAIT_BYTES: usize = 40 * 1024;
/// The smallest width tried when a busy picture does not fit at full size (ISO/IEC 18013-2 asks for 192).
const MIN_WIDTH: u32 = 192;
/// JPEG qualities tried in turn, best first; the first encoding under the cap is kept.
const QUALITIES: [u8; 7] = [85, 75, 65, 55, 45, 35, 25];

/// A normalised portrait: JPEG bytes and their SHA-256, which binds what was approved to what is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portrait {
    pub jpeg: Vec<u8>,
    /// Lowercase hex SHA-256 of `jpeg`.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub quality: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortraitError {
    #[error("the photo is neither a JPEG nor a PNG file")]
    NotAnImage,
    #[error("the photo cannot be decoded (damaged, truncated or too large)")]
    Undecodable,
    #[error("the photo cannot be encoded under {MAX_PORTRAIT_BYTES} bytes")]
    TooBusy,
}

/// A photo that passed the automatic checks, re-encoded from its pixels at full size: a baseline JPEG with
/// nothing but the picture (no EXIF, no comments, nothing after its end), kept under its own digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanCopy {
    pub jpeg: Vec<u8>,
    /// Lowercase hex SHA-256 of `jpeg`.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

/// The JPEG quality of clean copies: high, since reviewers judge the face in them and the portrait is
/// made from them once more.
const CLEAN_QUALITY: u8 = 92;

/// The largest clean copy the service reads back. The checks bound a photo to 2000 x 2600 pixels, whose
/// JPEG at [`CLEAN_QUALITY`] stays far below the 15.6 MB of its raw pixels even for pure noise.
pub const MAX_CLEAN_BYTES: usize = 16 * 1024 * 1024;

/// The clean copy of a decoded photo, transparency shown over white; `None` only if encoding fails.
pub fn clean_copy(image: &DynamicImage) -> Option<CleanCopy> {
    let rgb = flatten(image);
    let mut jpeg = Vec::new();
    rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut jpeg, CLEAN_QUALITY))
        .ok()?;
    Some(CleanCopy {
        sha256: sha256_hex(&jpeg),
        width: rgb.width(),
        height: rgb.height(),
        jpeg,
    })
}

/// Lowercase hex SHA-256, the digest every photo and portrait is bound by.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Decodes `bytes` (JPEG or PNG, told from its content), crops it to 3:4, scales it to the portrait size
/// and encodes it as a JPEG under [`MAX_PORTRAIT_BYTES`], lowering the quality (then the size) until it fits.
pub fn normalise(bytes: &[u8], rules: &PhotoRules) -> Result<Portrait, PortraitError> {
    let kind = ImageType::sniff(bytes).ok_or(PortraitError::NotAnImage)?;
    let image = photo::decode(bytes, kind, rules).ok_or(PortraitError::Undecodable)?;
    let cropped = crop_to_portrait(&image);
    let mut width = PORTRAIT_WIDTH;
    while width >= MIN_WIDTH {
        let height = width * 4 / 3;
        let scaled = flatten(&cropped.resize_exact(width, height, FilterType::Triangle));
        for quality in QUALITIES {
            let mut jpeg = Vec::with_capacity(MAX_PORTRAIT_BYTES);
            scaled
                .write_with_encoder(JpegEncoder::new_with_quality(&mut jpeg, quality))
                .map_err(|_| PortraitError::Undecodable)?;
            if jpeg.len() <= MAX_PORTRAIT_BYTES {
                return Ok(Portrait {
                    sha256: sha256_hex(&jpeg),
                    jpeg,
                    width,
                    height,
                    quality,
                });
            }
        }
        // Each step keeps about two thirds of the pixels.
        width = width * 5 / 6;
    }
    Err(PortraitError::TooBusy)
}

/// The largest 3:4 window of the picture: centred across, from the top down, since an ID photo's head
/// sits in its upper part and the shoulders reaching the bottom edge are what is given up.
fn crop_to_portrait(image: &DynamicImage) -> DynamicImage {
    let (width, height) = image.dimensions();
    let (crop_width, crop_height) = if u64::from(width) * 4 > u64::from(height) * 3 {
        ((height * 3 / 4).max(1), height)
    } else {
        (width, (width * 4 / 3).max(1))
    };
    let x = (width - crop_width.min(width)) / 2;
    image.crop_imm(x, 0, crop_width.min(width), crop_height.min(height))
}

/// RGB with any transparency shown over white, as the photo appears on a licence.
fn flatten(image: &DynamicImage) -> RgbImage {
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

#[cfg(test)]
mod tests {
    use super::super::photo::images::*;
    use super::*;
    use image::ImageReader;
    use std::io::Cursor;

    fn decoded(jpeg: &[u8]) -> DynamicImage {
        ImageReader::with_format(Cursor::new(jpeg), image::ImageFormat::Jpeg)
            .decode()
            .unwrap()
    }

    #[test]
    fn an_id_photo_becomes_a_small_3_by_4_jpeg() {
        let portrait = normalise(&id_photo_jpeg(600, 800), &PhotoRules::default()).unwrap();
        assert_eq!((portrait.width, portrait.height), (360, 480));
        assert!(
            portrait.jpeg.len() <= MAX_PORTRAIT_BYTES,
            "{} bytes",
            portrait.jpeg.len()
        );
        assert_eq!(portrait.quality, 85);
        assert_eq!(portrait.sha256, sha256_hex(&portrait.jpeg));
        assert_eq!(decoded(&portrait.jpeg).dimensions(), (360, 480));
        // The same photo always gives the same portrait.
        assert_eq!(
            normalise(&id_photo_jpeg(600, 800), &PhotoRules::default()).unwrap(),
            portrait
        );
    }

    #[test]
    fn a_png_and_a_narrow_photo_are_cropped_to_3_by_4() {
        let png = normalise(&id_photo_png(360, 480), &PhotoRules::default()).unwrap();
        assert_eq!(decoded(&png.jpeg).dimensions(), (360, 480));
        // 0.60 of the height: the top 3:4 window of the full width is kept.
        let narrow = normalise(&id_photo_jpeg(300, 500), &PhotoRules::default()).unwrap();
        assert_eq!(decoded(&narrow.jpeg).dimensions(), (360, 480));
    }

    #[test]
    fn metadata_and_trailing_payloads_are_gone() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 10, 1)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        let mut hostile = with_exif_capture_date(&id_photo_jpeg(360, 480), at);
        hostile.extend_from_slice(b"<html><script>alert(1)</script></html>PK\x03\x04");
        let portrait = normalise(&hostile, &PhotoRules::default()).unwrap();
        assert!(exif::Reader::new()
            .read_from_container(&mut Cursor::new(&portrait.jpeg))
            .is_err());
        assert!(
            portrait.jpeg.ends_with(&[0xFF, 0xD9]),
            "nothing after the end of the image"
        );
        assert!(!portrait.jpeg.windows(6).any(|w| w == b"<html>"));
        assert!(!portrait.jpeg.windows(4).any(|w| w == b"PK\x03\x04"));
    }

    #[test]
    fn the_largest_busiest_photo_accepted_still_fits_under_the_cap() {
        let bytes = noisy_id_photo_jpeg(2 * 1024 * 1024);
        assert!(
            bytes.len() > 1800 * 1024 && bytes.len() <= 2 * 1024 * 1024,
            "{} bytes",
            bytes.len()
        );
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let inspection = photo::inspect(&bytes, ImageType::Jpeg, today, &PhotoRules::default());
        assert!(inspection.passed(), "{inspection:#?}");
        let portrait = normalise(&bytes, &PhotoRules::default()).unwrap();
        assert!(
            portrait.jpeg.len() <= MAX_PORTRAIT_BYTES,
            "{} bytes",
            portrait.jpeg.len()
        );
        assert!(portrait.width >= MIN_WIDTH);
        println!(
            "2 MiB noisy photo of {} bytes -> portrait {}x{} at quality {}: {} bytes",
            bytes.len(),
            portrait.width,
            portrait.height,
            portrait.quality,
            portrait.jpeg.len()
        );
    }

    #[test]
    fn what_is_not_a_picture_is_refused() {
        let rules = PhotoRules::default();
        assert_eq!(normalise(b"GIF89a....", &rules), Err(PortraitError::NotAnImage));
        assert_eq!(
            normalise(&truncated(&id_photo_jpeg(360, 480)), &rules),
            Err(PortraitError::Undecodable)
        );
    }
}
