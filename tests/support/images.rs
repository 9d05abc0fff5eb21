//! Generated photo files for tests: ID photos that pass the automatic checks, and broken ones that fail exactly one.
//
// This file is also included with `#[path]` into the unit tests of `shared::applications::photo`, so it
// depends only on `image` and `chrono` and never names `crate::`.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{Rgb, RgbImage};

/// The near-white background of a good ID photo.
pub const PHOTO_BACKGROUND: [u8; 3] = [245, 245, 245];

/// An ID photo as JPEG (quality 90): near-white background with a little noise, a dark head and
/// shoulders. Passes every automatic check at 360x480; the same arguments give the same bytes.
pub fn id_photo_jpeg(width: u32, height: u32) -> Vec<u8> {
    encode_jpeg(&draw_person(width, height, PHOTO_BACKGROUND))
}

/// Like [`id_photo_jpeg`] with a small pattern of `seed`'s bits drawn on the face, so every seed
/// gives a different file (and SHA-256) that still passes the checks.
pub fn id_photo_jpeg_variant(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let mut image = draw_person(width, height, PHOTO_BACKGROUND);
    mark_seed(&mut image, seed);
    encode_jpeg(&image)
}

/// The drawing of [`id_photo_jpeg`] as PNG.
pub fn id_photo_png(width: u32, height: u32) -> Vec<u8> {
    let image = draw_person(width, height, PHOTO_BACKGROUND);
    let mut out = Vec::new();
    image
        .write_with_encoder(PngEncoder::new(&mut out))
        .unwrap_or_else(|e| panic!("encode PNG {width}x{height}: {e}"));
    out
}

/// The drawing of [`id_photo_jpeg`] in front of a background of colour `rgb`.
pub fn coloured_background_jpeg(width: u32, height: u32, rgb: [u8; 3]) -> Vec<u8> {
    encode_jpeg(&draw_person(width, height, rgb))
}

/// `jpeg` with an APP1 Exif segment right after SOI whose Exif IFD records `at` as DateTimeOriginal.
pub fn with_exif_capture_date(jpeg: &[u8], at: chrono::NaiveDateTime) -> Vec<u8> {
    with_exif_capture_text(jpeg, &at.format("%Y:%m:%d %H:%M:%S").to_string())
}

/// Like [`with_exif_capture_date`] with the date written as given (`YYYY:MM:DD HH:MM:SS`), so that a
/// test can write one no calendar has, such as second 60 or month 13.
pub fn with_exif_capture_text(jpeg: &[u8], date: &str) -> Vec<u8> {
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "with_exif_capture_date needs a JPEG");
    assert_eq!(date.len(), 19, "EXIF dates have four-digit years");

    // A little-endian TIFF: header (8) | IFD0 with one entry (18) | Exif IFD with one entry (18) | date (20).
    const IFD0: u32 = 8;
    const EXIF_IFD: u32 = IFD0 + 2 + 12 + 4;
    const DATE: u32 = EXIF_IFD + 2 + 12 + 4;
    let mut tiff = Vec::with_capacity(64);
    tiff.extend_from_slice(b"II");
    tiff.extend_from_slice(&42u16.to_le_bytes());
    tiff.extend_from_slice(&IFD0.to_le_bytes());
    // IFD0: ExifIFDPointer (LONG).
    tiff.extend_from_slice(&1u16.to_le_bytes());
    ifd_entry(&mut tiff, 0x8769, 4, 1, EXIF_IFD);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    // Exif IFD: DateTimeOriginal (ASCII, 20 bytes with the NUL, so stored at an offset).
    tiff.extend_from_slice(&1u16.to_le_bytes());
    ifd_entry(&mut tiff, 0x9003, 2, 20, DATE);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(date.as_bytes());
    tiff.push(0);

    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let length = u16::try_from(payload.len() + 2).unwrap_or_else(|_| panic!("APP1 too long"));

    let mut out = Vec::with_capacity(jpeg.len() + payload.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A PNG whose IHDR (8-bit RGB, correct CRC) claims `width` x `height` but which carries almost
/// no image data: a decompression bomb's header. A text chunk pads it above the 8 KiB minimum
/// file size, so the size check does not stop it before the dimension check.
pub fn png_claiming_dimensions(width: u32, height: u32) -> Vec<u8> {
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    let mut text = b"Comment\0".to_vec();
    text.resize(9 * 1024, b'x');
    png_chunk(&mut out, b"tEXt", &text);
    // A zlib stream holding one empty stored block (Adler-32 of nothing is 1).
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// `png` with a text chunk inserted before its end whose CRC is wrong: the picture decodes, since decoders
/// stop at the last image data, but the file is damaged (or was altered by hand).
pub fn png_with_bad_crc(png: &[u8]) -> Vec<u8> {
    assert!(
        png.ends_with(b"IEND\xAE\x42\x60\x82"),
        "png_with_bad_crc needs a PNG ending in IEND"
    );
    let (body, end) = png.split_at(png.len() - 12);
    let mut out = body.to_vec();
    png_chunk(&mut out, b"tEXt", b"Comment\0hello");
    let last = out.len() - 1;
    out[last] ^= 0xFF;
    out.extend_from_slice(end);
    out
}

/// The first half of `bytes`.
pub fn truncated(bytes: &[u8]) -> Vec<u8> {
    bytes[..bytes.len() / 2].to_vec()
}

/// A valid 1x1 GIF89a, padded above 8 KiB with a comment extension so only the type check fails.
pub fn gif_bytes() -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    // Logical screen 1x1, global colour table of 2 entries: black and white.
    out.extend_from_slice(&[0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00]);
    out.extend_from_slice(&[0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF]);
    out.extend_from_slice(&[0x21, 0xFE]);
    for _ in 0..40 {
        out.push(255);
        out.extend(std::iter::repeat_n(b'x', 255));
    }
    out.push(0x00);
    // One 1x1 image, LZW minimum code size 2, then the trailer.
    out.extend_from_slice(&[0x2C, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
    out.extend_from_slice(&[0x02, 0x02, 0x44, 0x01, 0x00]);
    out.push(0x3B);
    out
}

/// CRC-32 (ISO-HDLC, as PNG uses) of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let length = u32::try_from(data.len()).unwrap_or_else(|_| panic!("PNG chunk too long"));
    out.extend_from_slice(&length.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn ifd_entry(tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32) {
    tiff.extend_from_slice(&tag.to_le_bytes());
    tiff.extend_from_slice(&kind.to_le_bytes());
    tiff.extend_from_slice(&count.to_le_bytes());
    tiff.extend_from_slice(&value.to_le_bytes());
}

fn encode_jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image
        .write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90))
        .unwrap_or_else(|e| panic!("encode JPEG {}x{}: {e}", image.width(), image.height()));
    out
}

/// Head (ellipse), neck and shoulders (trapezoid) kept clear of the side and top bands the
/// background check looks at, over `background`; every pixel gets a little deterministic noise
/// so the files are realistically large and truncating one leaves it above the minimum size.
fn draw_person(width: u32, height: u32, background: [u8; 3]) -> RgbImage {
    let (w, h) = (width as f32, height as f32);
    let (cx, cy) = (w * 0.5, h * 0.42);
    let (rx, ry) = (w * 0.20, h * 0.20);
    let head = [95, 72, 60];
    let clothes = [35, 35, 50];
    RgbImage::from_fn(width, height, |x, y| {
        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
        let dx = (px - cx) / rx;
        let dy = (py - cy) / ry;
        let in_head = dx * dx + dy * dy <= 1.0;
        let in_neck = py >= h * 0.58 && py < h * 0.70 && (px - cx).abs() <= w * 0.08;
        let colour = if in_head || in_neck {
            head
        } else if py >= h * 0.68 {
            let t = (py - h * 0.68) / (h * 0.32);
            let half = w * (0.22 + 0.20 * t);
            if (px - cx).abs() <= half {
                clothes
            } else {
                background
            }
        } else {
            background
        };
        let n = noise(x, y);
        Rgb(colour.map(|c| (i16::from(c) + n).clamp(0, 255) as u8))
    })
}

/// Draws the 32 bits of `seed` as a row of black and white 2x4 bars across the face.
fn mark_seed(image: &mut RgbImage, seed: u32) {
    let (width, height) = image.dimensions();
    let y0 = height * 42 / 100;
    let x0 = (width / 2).saturating_sub(32);
    for bit in 0..32u32 {
        let colour = if seed >> bit & 1 == 1 {
            Rgb([0, 0, 0])
        } else {
            Rgb([255, 255, 255])
        };
        for y in y0..(y0 + 4).min(height) {
            for x in (x0 + 2 * bit)..(x0 + 2 * bit + 2).min(width) {
                image.put_pixel(x, y, colour);
            }
        }
    }
}

/// A deterministic offset in -4..=4 for a pixel.
fn noise(x: u32, y: u32) -> i16 {
    let mut v = x.wrapping_mul(0x9E37_79B1) ^ y.wrapping_mul(0x85EB_CA77);
    v ^= v >> 15;
    v = v.wrapping_mul(0x2C1B_3C6D);
    v ^= v >> 12;
    (v % 9) as i16 - 4
}

/// The largest, busiest photo the automatic checks accept: 1500x2000 pixels, a near-white background and
/// a head and shoulders of loud per-pixel colour noise (which JPEG compresses worst), encoded at the
/// highest quality that keeps the file within `max_bytes` (the 2 MiB upload limit).
pub fn noisy_id_photo_jpeg(max_bytes: usize) -> Vec<u8> {
    let mut image = draw_person(1500, 2000, PHOTO_BACKGROUND);
    for (x, y, pixel) in image.enumerate_pixels_mut() {
        if pixel.0 != PHOTO_BACKGROUND.map(|c| (i16::from(c) + noise(x, y)).clamp(0, 255) as u8) {
            let loud = |salt: u32| noise(x.wrapping_mul(7).wrapping_add(salt), y.wrapping_mul(13)) * 20;
            pixel.0 = [
                (i16::from(pixel.0[0]) + 80 + loud(1)).clamp(0, 255) as u8,
                (i16::from(pixel.0[1]) + 80 + loud(2)).clamp(0, 255) as u8,
                (i16::from(pixel.0[2]) + 80 + loud(3)).clamp(0, 255) as u8,
            ];
        }
    }
    for quality in (40..=98u8).rev().step_by(2) {
        let mut out = Vec::new();
        image
            .write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality))
            .unwrap_or_else(|e| panic!("encode JPEG: {e}"));
        if out.len() <= max_bytes {
            return out;
        }
    }
    panic!("no quality keeps the noisy photo within {max_bytes} bytes")
}
