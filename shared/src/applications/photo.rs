//! Automatic checks of an uploaded ID photo before any person sees it (R5, R15).

use chrono::{NaiveDate, NaiveDateTime};
use image::{DynamicImage, GenericImageView, ImageFormat, ImageReader, Limits};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Cursor;

/// The file types an ID photo may be uploaded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageType {
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
}

impl ImageType {
    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Jpeg => "image/jpeg",
            ImageType::Png => "image/png",
        }
    }

    /// Only the two registered types: aliases such as `image/jpg` are a client bug worth seeing.
    pub fn from_mime(s: &str) -> Option<ImageType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "image/jpeg" => Some(ImageType::Jpeg),
            "image/png" => Some(ImageType::Png),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageType::Jpeg => "jpg",
            ImageType::Png => "png",
        }
    }

    fn name(self) -> &'static str {
        match self {
            ImageType::Jpeg => "JPEG",
            ImageType::Png => "PNG",
        }
    }

    fn format(self) -> ImageFormat {
        match self {
            ImageType::Jpeg => ImageFormat::Jpeg,
            ImageType::Png => ImageFormat::Png,
        }
    }

    fn magic(self) -> &'static [u8] {
        match self {
            ImageType::Jpeg => &[0xFF, 0xD8, 0xFF],
            ImageType::Png => &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A],
        }
    }

    /// The type the content itself says it is, whatever was declared.
    pub(crate) fn sniff(bytes: &[u8]) -> Option<ImageType> {
        [ImageType::Jpeg, ImageType::Png]
            .into_iter()
            .find(|t| bytes.starts_with(t.magic()))
    }
}

/// Limits of an acceptable ID photo; `Default` gives the authority's rules.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoRules {
    pub min_bytes: usize,
    pub max_bytes: usize,
    pub min_width: u32,
    pub min_height: u32,
    pub max_width: u32,
    pub max_height: u32,
    /// Width / height.
    pub min_aspect: f32,
    pub max_aspect: f32,
    /// Share of the border pixels that must be near white.
    pub min_white_border: f32,
    /// How old the EXIF capture date may be.
    pub max_age_days: i64,
}

impl Default for PhotoRules {
    fn default() -> Self {
        PhotoRules {
            min_bytes: 8 * 1024,
            max_bytes: 2 * 1024 * 1024,
            min_width: 260,
            min_height: 320,
            max_width: 2000,
            max_height: 2600,
            min_aspect: 0.60,
            max_aspect: 0.85,
            min_white_border: 0.90,
            max_age_days: 183,
        }
    }
}

/// The outcome of one check; `message` is meant for the applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub code: String,
    pub passed: bool,
    pub message: String,
}

impl CheckResult {
    fn pass(code: &str, message: String) -> Self {
        CheckResult {
            code: code.to_string(),
            passed: true,
            message,
        }
    }

    fn fail(code: &str, message: String) -> Self {
        CheckResult {
            code: code.to_string(),
            passed: false,
            message,
        }
    }
}

/// What the automatic checks found out about one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    /// Lowercase hex of the exact bytes, so the same file uploaded twice is recognised.
    pub sha256: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// EXIF DateTimeOriginal (or DateTime), in the camera's unknown time zone.
    pub captured_at: Option<NaiveDateTime>,
    /// In the order run.
    pub checks: Vec<CheckResult>,
}

impl Inspection {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    pub fn failures(&self) -> Vec<&CheckResult> {
        self.checks.iter().filter(|c| !c.passed).collect()
    }

    /// Records `check` and says whether it passed, so `inspect` can stop at a failed gate.
    fn record(&mut self, check: CheckResult) -> bool {
        let passed = check.passed;
        self.checks.push(check);
        passed
    }
}

/// The decoder may hold at most this much at once: a 2000 x 2600 RGBA photo needs about 21 MB,
/// so this is generous for any acceptable photo and still bounded for hostile ones.
const MAX_DECODE_ALLOC: u64 = 64 * 1024 * 1024;

/// Width of the side bands and height of the top band the background check looks at.
const BORDER_BAND: f32 = 0.06;

/// Runs every automatic check on `bytes` declared as `declared`, as of `today`.
pub fn inspect(bytes: &[u8], declared: ImageType, today: NaiveDate, rules: &PhotoRules) -> Inspection {
    let mut inspection = Inspection {
        sha256: hex::encode(Sha256::digest(bytes)),
        width: None,
        height: None,
        captured_at: None,
        checks: Vec::new(),
    };

    // The first four are gates: each later one would be unsafe or meaningless on a file that
    // failed an earlier one (above all, decoding a file whose header claims a huge size).
    if !inspection.record(check_file_size(bytes, rules)) {
        return inspection;
    }
    if !inspection.record(check_file_type(bytes, declared)) {
        return inspection;
    }
    let header = ImageReader::with_format(Cursor::new(bytes), declared.format()).into_dimensions();
    if let Ok((width, height)) = header {
        inspection.width = Some(width);
        inspection.height = Some(height);
    }
    if !inspection.record(check_dimensions(header.ok(), rules)) {
        return inspection;
    }
    let image = match decode(bytes, declared, rules) {
        Some(image) => image,
        None => {
            inspection.record(CheckResult::fail(
                "decodes",
                "The photo file is incomplete or damaged; upload the original file again.".to_string(),
            ));
            return inspection;
        }
    };
    inspection.record(CheckResult::pass(
        "decodes",
        "The photo file is complete and readable.".to_string(),
    ));

    inspection.record(check_aspect_ratio(image.width(), image.height(), rules));
    inspection.record(check_background(&image, rules));
    inspection.captured_at = capture_date(bytes);
    inspection.record(check_capture_date(inspection.captured_at, today, rules));
    inspection
}

fn check_file_size(bytes: &[u8], rules: &PhotoRules) -> CheckResult {
    let size = bytes.len();
    if size < rules.min_bytes {
        CheckResult::fail(
            "file-size",
            format!(
                "The file is only {}, too small for a clear photo; upload a photo of at least {}.",
                human_size(size),
                human_size(rules.min_bytes)
            ),
        )
    } else if size > rules.max_bytes {
        CheckResult::fail(
            "file-size",
            format!(
                "The file is {}, more than the {} allowed; upload a smaller photo.",
                human_size(size),
                human_size(rules.max_bytes)
            ),
        )
    } else {
        CheckResult::pass("file-size", format!("The file size of {} is fine.", human_size(size)))
    }
}

fn human_size(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB {
        format!("{:.1} MB", bytes as f64 / MIB as f64)
    } else if bytes >= 1024 {
        format!("{} KB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

/// The declared type is only a claim by the client; the content has to agree before any decoder
/// sees it, so a decoder for one format is never pointed at another.
fn check_file_type(bytes: &[u8], declared: ImageType) -> CheckResult {
    match ImageType::sniff(bytes) {
        Some(actual) if actual == declared => {
            CheckResult::pass("file-type", format!("The file is a {} image.", declared.name()))
        }
        Some(actual) => CheckResult::fail(
            "file-type",
            format!(
                "The file is a {} image but was sent as {}; upload it again as {}.",
                actual.name(),
                declared.name(),
                actual.name()
            ),
        ),
        None => CheckResult::fail(
            "file-type",
            format!(
                "The file is not a {} image; upload the photo as a JPEG or PNG file.",
                declared.name()
            ),
        ),
    }
}

/// Judges the size the header claims, before any pixel is decoded, so a small file claiming a
/// huge image (a decompression bomb) is refused without allocating its pixels.
fn check_dimensions(header: Option<(u32, u32)>, rules: &PhotoRules) -> CheckResult {
    let Some((width, height)) = header else {
        return CheckResult::fail(
            "dimensions",
            "The photo's size could not be read because the file is damaged; export it again as JPEG or PNG and upload it."
                .to_string(),
        );
    };
    if width < rules.min_width || height < rules.min_height {
        CheckResult::fail(
            "dimensions",
            format!(
                "The photo is {width}x{height} pixels, smaller than the {}x{} needed; upload a photo with more detail.",
                rules.min_width, rules.min_height
            ),
        )
    } else if width > rules.max_width || height > rules.max_height {
        CheckResult::fail(
            "dimensions",
            format!(
                "The photo is {width}x{height} pixels, larger than the {}x{} allowed; resize it and upload it again.",
                rules.max_width, rules.max_height
            ),
        )
    } else {
        CheckResult::pass("dimensions", format!("The photo is {width}x{height} pixels."))
    }
}

pub(crate) fn decode(bytes: &[u8], declared: ImageType, rules: &PhotoRules) -> Option<DynamicImage> {
    // The JPEG decoder is lenient and fills a cut-off image with grey, so an upload that broke
    // off half-way would otherwise pass; the end-of-image marker shows it arrived whole.
    if declared == ImageType::Jpeg && !jpeg_has_end(bytes) {
        return None;
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(rules.max_width);
    limits.max_image_height = Some(rules.max_height);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), declared.format());
    reader.limits(limits);
    reader.decode().ok()
}

/// Whether an end-of-image marker follows the first scan. The segments before the scan are
/// skipped by their lengths, so the end marker of an EXIF thumbnail does not count; inside the
/// scan data every 0xFF byte is stuffed or a restart marker, so FF D9 there is the real end.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let mut at = 2;
    loop {
        if bytes.get(at) != Some(&0xFF) {
            return false;
        }
        // Any number of 0xFF fill bytes may precede a marker.
        while bytes.get(at) == Some(&0xFF) {
            at += 1;
        }
        let Some(&marker) = bytes.get(at) else {
            return false;
        };
        at += 1;
        match marker {
            0xDA => {
                return bytes
                    .get(at..)
                    .is_some_and(|rest| rest.windows(2).any(|w| w == [0xFF, 0xD9]))
            }
            0xD9 => return false,
            // Standalone markers carry no length.
            0x01 | 0xD0..=0xD7 => {}
            _ => {
                let Some(length) = bytes.get(at..at + 2) else {
                    return false;
                };
                at += usize::from(u16::from_be_bytes([length[0], length[1]]));
            }
        }
    }
}

fn check_aspect_ratio(width: u32, height: u32, rules: &PhotoRules) -> CheckResult {
    let ratio = width as f32 / height.max(1) as f32;
    if ratio < rules.min_aspect || ratio > rules.max_aspect {
        CheckResult::fail(
            "aspect-ratio",
            format!(
                "The photo's width is {ratio:.2} times its height; crop it to an upright portrait between {:.2} and {:.2} (3:4 is ideal).",
                rules.min_aspect, rules.max_aspect
            ),
        )
    } else {
        CheckResult::pass(
            "aspect-ratio",
            format!("The photo is an upright portrait (width {ratio:.2} of its height)."),
        )
    }
}

fn check_background(image: &DynamicImage, rules: &PhotoRules) -> CheckResult {
    let share = white_border_share(image);
    // Rounded down, so a photo that fails never claims the very share it needed.
    let percent = (share * 100.0).floor();
    let needed = (rules.min_white_border * 100.0).ceil();
    if share >= rules.min_white_border {
        CheckResult::pass("background", format!("{percent:.0}% of the background is white."))
    } else {
        CheckResult::fail(
            "background",
            format!(
                "{percent:.0}% of the background is white but at least {needed:.0}% must be; take the photo again in front of a plain white wall."
            ),
        )
    }
}

/// The share of near-white pixels in the top band and the two side bands. The bottom is left
/// out because the shoulders reach the bottom edge in a correctly framed photo.
fn white_border_share(image: &DynamicImage) -> f32 {
    let (width, height) = image.dimensions();
    if width == 0 || height == 0 {
        return 0.0;
    }
    let band_width = ((width as f32 * BORDER_BAND).round() as u32).clamp(1, width);
    let band_height = ((height as f32 * BORDER_BAND).round() as u32).clamp(1, height);
    // Reading pixels one by one through the view converts only the border, not a whole copy.
    let mut white = 0u64;
    let mut total = 0u64;
    let mut count = |x: u32, y: u32| {
        total += 1;
        if near_white(image.get_pixel(x, y).0) {
            white += 1;
        }
    };
    for y in 0..band_height {
        for x in 0..width {
            count(x, y);
        }
    }
    let right = (width - band_width).max(band_width);
    for y in band_height..height {
        for x in (0..band_width).chain(right..width) {
            count(x, y);
        }
    }
    white as f32 / total.max(1) as f32
}

/// Near white: bright in every channel and nearly grey. Transparent pixels are taken as shown
/// over white, which is how the photo would appear on the licence.
fn near_white([r, g, b, a]: [u8; 4]) -> bool {
    let over_white = |c: u8| (u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255;
    let (r, g, b) = (over_white(r), over_white(g), over_white(b));
    let min = r.min(g).min(b);
    let max = r.max(g).max(b);
    min >= 200 && max - min <= 30
}

/// The capture date the camera recorded, if any. Unreadable or odd EXIF counts as none: the
/// date is evidence about the photo's age, not a requirement of the file.
fn capture_date(bytes: &[u8]) -> Option<NaiveDateTime> {
    let exif = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)).ok()?;
    [exif::Tag::DateTimeOriginal, exif::Tag::DateTime]
        .into_iter()
        .find_map(|tag| {
            let field = exif.get_field(tag, exif::In::PRIMARY)?;
            let exif::Value::Ascii(ref values) = field.value else {
                return None;
            };
            let at = exif::DateTime::from_ascii(values.first()?).ok()?;
            NaiveDate::from_ymd_opt(i32::from(at.year), u32::from(at.month), u32::from(at.day))?.and_hms_opt(
                u32::from(at.hour),
                u32::from(at.minute),
                u32::from(at.second),
            )
        })
}

fn check_capture_date(captured_at: Option<NaiveDateTime>, today: NaiveDate, rules: &PhotoRules) -> CheckResult {
    let Some(captured_at) = captured_at else {
        // Photos scanned or exported from an album often carry no date; the reviewer judges those.
        return CheckResult::pass(
            "capture-date",
            "No capture date was recorded in the photo, so its age is left to the reviewer.".to_string(),
        );
    };
    let taken = captured_at.date();
    let age_days = (today - taken).num_days();
    // The camera's clock has no time zone, so a photo dated tomorrow is given the benefit of the doubt.
    if age_days < -1 {
        CheckResult::fail(
            "capture-date",
            format!(
                "The photo says it was taken on {taken}, which is in the future; check the camera's date and take the photo again."
            ),
        )
    } else if age_days > rules.max_age_days {
        CheckResult::fail(
            "capture-date",
            format!(
                "The photo was taken on {taken}, more than {} days ago; upload a photo taken recently.",
                rules.max_age_days
            ),
        )
    } else {
        CheckResult::pass(
            "capture-date",
            format!("The photo was taken on {taken}, recently enough."),
        )
    }
}

#[cfg(test)]
#[allow(dead_code)]
#[path = "../../../tests/support/images.rs"]
pub(crate) mod images;

#[cfg(test)]
mod tests {
    use super::images::*;
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
    }

    fn run(bytes: &[u8], declared: ImageType) -> Inspection {
        inspect(bytes, declared, today(), &PhotoRules::default())
    }

    fn codes(inspection: &Inspection) -> Vec<&str> {
        inspection.checks.iter().map(|c| c.code.as_str()).collect()
    }

    fn failed_codes(inspection: &Inspection) -> Vec<&str> {
        inspection.failures().iter().map(|c| c.code.as_str()).collect()
    }

    fn at(date: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(date, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    const ALL: [&str; 7] = [
        "file-size",
        "file-type",
        "dimensions",
        "decodes",
        "aspect-ratio",
        "background",
        "capture-date",
    ];

    #[test]
    fn a_white_background_jpeg_passes_every_check() {
        let bytes = id_photo_jpeg(360, 480);
        let inspection = run(&bytes, ImageType::Jpeg);
        assert!(inspection.passed(), "{inspection:#?}");
        assert_eq!(codes(&inspection), ALL);
        assert_eq!((inspection.width, inspection.height), (Some(360), Some(480)));
        assert_eq!(inspection.captured_at, None);
        assert!(inspection.checks.iter().all(|c| !c.message.is_empty()));
        assert!(
            inspection.checks[6].message.contains("No capture date"),
            "{inspection:#?}"
        );
    }

    #[test]
    fn the_same_drawing_as_png_passes_every_check() {
        let inspection = run(&id_photo_png(360, 480), ImageType::Png);
        assert!(inspection.passed(), "{inspection:#?}");
        assert_eq!(codes(&inspection), ALL);
    }

    #[test]
    fn the_sha256_is_of_the_exact_bytes() {
        let bytes = id_photo_jpeg(360, 480);
        let inspection = run(&bytes, ImageType::Jpeg);
        assert_eq!(inspection.sha256, hex::encode(Sha256::digest(&bytes)));
        assert_eq!(inspection.sha256.len(), 64);
        assert_eq!(inspection.sha256, inspection.sha256.to_lowercase());
        // Computed even when the first check fails.
        assert_eq!(
            run(b"tiny", ImageType::Jpeg).sha256,
            hex::encode(Sha256::digest(b"tiny"))
        );
    }

    #[test]
    fn generated_photos_are_deterministic_and_variants_differ() {
        assert_eq!(id_photo_jpeg(360, 480), id_photo_jpeg(360, 480));
        assert_eq!(id_photo_jpeg_variant(360, 480, 7), id_photo_jpeg_variant(360, 480, 7));
        let hashes: Vec<String> = [
            id_photo_jpeg(360, 480),
            id_photo_jpeg_variant(360, 480, 0),
            id_photo_jpeg_variant(360, 480, 1),
            id_photo_jpeg_variant(360, 480, 2),
        ]
        .iter()
        .map(|bytes| {
            let inspection = run(bytes, ImageType::Jpeg);
            assert!(inspection.passed(), "{inspection:#?}");
            inspection.sha256
        })
        .collect();
        for (i, a) in hashes.iter().enumerate() {
            for b in &hashes[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn a_blue_background_fails_background() {
        let inspection = run(&coloured_background_jpeg(360, 480, [60, 110, 200]), ImageType::Jpeg);
        assert_eq!(failed_codes(&inspection), ["background"], "{inspection:#?}");
        assert_eq!(codes(&inspection), ALL);
        let message = &inspection.failures()[0].message;
        assert!(message.starts_with("0% of the background is white"), "{message}");
    }

    #[test]
    fn a_light_grey_background_passes_and_a_mid_grey_one_fails() {
        let light = run(&coloured_background_jpeg(360, 480, [215, 215, 215]), ImageType::Jpeg);
        assert!(light.passed(), "{light:#?}");
        let grey = run(&coloured_background_jpeg(360, 480, [180, 180, 180]), ImageType::Jpeg);
        assert_eq!(failed_codes(&grey), ["background"]);
    }

    #[test]
    fn png_bytes_declared_as_jpeg_fail_file_type() {
        let inspection = run(&id_photo_png(360, 480), ImageType::Jpeg);
        assert_eq!(codes(&inspection), ["file-size", "file-type"]);
        assert_eq!(failed_codes(&inspection), ["file-type"]);
        assert!(inspection.failures()[0]
            .message
            .contains("PNG image but was sent as JPEG"));
        assert_eq!(
            failed_codes(&run(&id_photo_jpeg(360, 480), ImageType::Png)),
            ["file-type"]
        );
    }

    #[test]
    fn gif_webp_and_html_fail_file_type() {
        let gif = gif_bytes();
        assert!(gif.len() > 8 * 1024);
        assert!(gif.starts_with(b"GIF89a"));
        for declared in [ImageType::Jpeg, ImageType::Png] {
            let inspection = run(&gif, declared);
            assert_eq!(codes(&inspection), ["file-size", "file-type"]);
            assert_eq!(failed_codes(&inspection), ["file-type"]);
        }
        let mut webp = b"RIFF\x00\x00\x00\x00WEBPVP8 ".to_vec();
        webp.resize(10_000, 0);
        assert_eq!(failed_codes(&run(&webp, ImageType::Jpeg)), ["file-type"]);
        let mut html = b"<!DOCTYPE html><html><body>".to_vec();
        html.resize(10_000, b' ');
        assert_eq!(failed_codes(&run(&html, ImageType::Png)), ["file-type"]);
    }

    #[test]
    fn a_jpeg_cut_in_half_fails_decodes() {
        let bytes = truncated(&id_photo_jpeg(360, 480));
        assert!(bytes.len() >= PhotoRules::default().min_bytes, "{} bytes", bytes.len());
        let inspection = run(&bytes, ImageType::Jpeg);
        assert_eq!(codes(&inspection), ["file-size", "file-type", "dimensions", "decodes"]);
        assert_eq!(failed_codes(&inspection), ["decodes"]);
    }

    #[test]
    fn a_png_cut_in_half_fails_decodes() {
        let bytes = truncated(&id_photo_png(360, 480));
        assert_eq!(failed_codes(&run(&bytes, ImageType::Png)), ["decodes"]);
    }

    #[test]
    fn a_jpeg_with_garbage_after_its_header_fails() {
        let mut bytes = id_photo_jpeg(360, 480);
        let middle = bytes.len() / 3;
        for byte in &mut bytes[middle..] {
            *byte = 0x5A;
        }
        let inspection = run(&bytes, ImageType::Jpeg);
        assert!(!inspection.passed());
        assert_eq!(failed_codes(&inspection), ["decodes"]);
    }

    #[test]
    fn a_png_claiming_100000_by_100000_fails_dimensions_without_decoding() {
        let bytes = png_claiming_dimensions(100_000, 100_000);
        assert!(bytes.len() >= PhotoRules::default().min_bytes);
        assert!(bytes.len() < 16 * 1024);
        let inspection = run(&bytes, ImageType::Png);
        assert_eq!(codes(&inspection), ["file-size", "file-type", "dimensions"]);
        assert_eq!(failed_codes(&inspection), ["dimensions"]);
        assert_eq!((inspection.width, inspection.height), (Some(100_000), Some(100_000)));
        assert!(inspection.failures()[0].message.contains("100000x100000"));
    }

    #[test]
    fn png_claiming_dimensions_has_correct_crcs() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let bytes = png_claiming_dimensions(100_000, 100_000);
        let ihdr_crc = u32::from_be_bytes(bytes[29..33].try_into().unwrap());
        assert_eq!(ihdr_crc, crc32(&bytes[12..29]));
        // The png crate checks CRCs and reads the header as written.
        let reader = ImageReader::with_format(Cursor::new(&bytes), ImageFormat::Png);
        assert_eq!(reader.into_dimensions().unwrap(), (100_000, 100_000));
    }

    #[test]
    fn a_header_too_small_fails_dimensions_and_a_plausible_one_fails_decodes() {
        assert_eq!(
            failed_codes(&run(&png_claiming_dimensions(100, 100), ImageType::Png)),
            ["dimensions"]
        );
        assert_eq!(
            failed_codes(&run(&png_claiming_dimensions(360, 480), ImageType::Png)),
            ["decodes"]
        );
    }

    #[test]
    fn a_landscape_photo_fails_aspect_ratio() {
        let inspection = run(&id_photo_jpeg(1000, 400), ImageType::Jpeg);
        assert_eq!(codes(&inspection), ALL);
        assert_eq!(failed_codes(&inspection), ["aspect-ratio"], "{inspection:#?}");
    }

    #[test]
    fn too_small_and_too_large_files_fail_file_size() {
        let small = id_photo_jpeg(360, 480)[..4000].to_vec();
        let inspection = run(&small, ImageType::Jpeg);
        assert_eq!(codes(&inspection), ["file-size"]);
        assert_eq!(failed_codes(&inspection), ["file-size"]);
        assert!(inspection.failures()[0].message.contains("at least 8 KB"));

        let mut large = id_photo_jpeg(360, 480);
        large.resize(2 * 1024 * 1024 + 1, 0);
        assert_eq!(failed_codes(&run(&large, ImageType::Jpeg)), ["file-size"]);
        let mut limit = id_photo_jpeg(360, 480);
        limit.resize(2 * 1024 * 1024, 0);
        assert!(
            run(&limit, ImageType::Jpeg).passed(),
            "trailing bytes after the end marker are harmless"
        );
        assert_eq!(failed_codes(&run(&[], ImageType::Png)), ["file-size"]);
    }

    #[test]
    fn the_exif_crate_reads_the_generated_capture_date() {
        let bytes = with_exif_capture_date(&id_photo_jpeg(360, 480), at("2025-01-01 09:30:05"));
        let exif = exif::Reader::new()
            .read_from_container(&mut Cursor::new(&bytes))
            .unwrap();
        let field = exif.get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY).unwrap();
        assert_eq!(field.display_value().to_string(), "2025-01-01 09:30:05");
        assert_eq!(capture_date(&bytes), Some(at("2025-01-01 09:30:05")));
    }

    #[test]
    fn a_capture_date_older_than_six_months_fails() {
        let bytes = with_exif_capture_date(&id_photo_jpeg(360, 480), at("2025-01-01 10:00:00"));
        let inspection = run(&bytes, ImageType::Jpeg);
        assert_eq!(codes(&inspection), ALL);
        assert_eq!(failed_codes(&inspection), ["capture-date"], "{inspection:#?}");
        assert_eq!(inspection.captured_at, Some(at("2025-01-01 10:00:00")));
    }

    #[test]
    fn a_recent_capture_date_passes() {
        let bytes = with_exif_capture_date(&id_photo_jpeg(360, 480), at("2026-10-01 10:00:00"));
        let inspection = run(&bytes, ImageType::Jpeg);
        assert!(inspection.passed(), "{inspection:#?}");
        assert_eq!(inspection.captured_at, Some(at("2026-10-01 10:00:00")));
    }

    #[test]
    fn a_capture_date_in_the_future_fails_but_tomorrow_is_tolerated() {
        let photo = id_photo_jpeg(360, 480);
        let future = run(
            &with_exif_capture_date(&photo, at("2026-12-31 10:00:00")),
            ImageType::Jpeg,
        );
        assert_eq!(failed_codes(&future), ["capture-date"]);
        assert!(future.failures()[0].message.contains("future"));
        let tomorrow = run(
            &with_exif_capture_date(&photo, at("2026-11-26 23:59:59")),
            ImageType::Jpeg,
        );
        assert!(tomorrow.passed(), "{tomorrow:#?}");
        let two_days = run(
            &with_exif_capture_date(&photo, at("2026-11-27 00:00:00")),
            ImageType::Jpeg,
        );
        assert_eq!(failed_codes(&two_days), ["capture-date"]);
    }

    #[test]
    fn the_age_limit_is_inclusive() {
        let photo = id_photo_jpeg(360, 480);
        let rules = PhotoRules::default();
        let edge = today() - chrono::Duration::days(rules.max_age_days);
        let bytes = with_exif_capture_date(&photo, edge.and_hms_opt(0, 0, 0).unwrap());
        assert!(run(&bytes, ImageType::Jpeg).passed());
        let older = with_exif_capture_date(
            &photo,
            (edge - chrono::Duration::days(1)).and_hms_opt(23, 59, 59).unwrap(),
        );
        assert_eq!(failed_codes(&run(&older, ImageType::Jpeg)), ["capture-date"]);
    }

    #[test]
    fn jpeg_end_is_found_after_the_scan_only() {
        let photo = id_photo_jpeg(360, 480);
        assert!(jpeg_has_end(&photo));
        assert!(jpeg_has_end(&with_exif_capture_date(&photo, at("2026-10-01 10:00:00"))));
        assert!(!jpeg_has_end(&photo[..photo.len() - 2]));
        assert!(!jpeg_has_end(&[0xFF, 0xD8, 0xFF]));
        assert!(!jpeg_has_end(&[0xFF, 0xD8, 0xFF, 0xD9]));
    }

    #[test]
    fn transparent_pixels_count_as_white() {
        assert!(near_white([0, 0, 0, 0]));
        assert!(near_white([245, 240, 235, 255]));
        assert!(!near_white([245, 240, 200, 255]));
        assert!(!near_white([190, 190, 190, 255]));
        assert!(!near_white([0, 0, 0, 255]));
    }

    #[test]
    fn image_types_map_to_mime_types_and_extensions() {
        assert_eq!(ImageType::Jpeg.mime(), "image/jpeg");
        assert_eq!(ImageType::Png.mime(), "image/png");
        assert_eq!(ImageType::Jpeg.extension(), "jpg");
        assert_eq!(ImageType::Png.extension(), "png");
        assert_eq!(ImageType::from_mime(" Image/JPEG "), Some(ImageType::Jpeg));
        assert_eq!(ImageType::from_mime("image/png"), Some(ImageType::Png));
        assert_eq!(ImageType::from_mime("image/jpg"), None);
        assert_eq!(ImageType::from_mime("image/gif"), None);
        assert_eq!(ImageType::from_mime("image/png; charset=binary"), None);
        assert_eq!(serde_json::to_string(&ImageType::Jpeg).unwrap(), "\"image/jpeg\"");
        assert_eq!(
            serde_json::from_str::<ImageType>("\"image/png\"").unwrap(),
            ImageType::Png
        );
    }

    #[test]
    fn an_inspection_serialises_in_camel_case() {
        let bytes = with_exif_capture_date(&id_photo_jpeg(360, 480), at("2026-10-01 10:00:00"));
        let inspection = run(&bytes, ImageType::Jpeg);
        let json = serde_json::to_value(&inspection).unwrap();
        assert_eq!(json["capturedAt"], "2026-10-01T10:00:00");
        assert_eq!(json["width"], 360);
        assert_eq!(json["checks"][0]["code"], "file-size");
        assert_eq!(json["checks"][0]["passed"], true);
        let back: Inspection = serde_json::from_value(json).unwrap();
        assert_eq!(back, inspection);
    }

    #[test]
    fn default_rules_are_the_authoritys() {
        let rules = PhotoRules::default();
        assert_eq!((rules.min_bytes, rules.max_bytes), (8192, 2_097_152));
        assert_eq!(
            (rules.min_width, rules.min_height, rules.max_width, rules.max_height),
            (260, 320, 2000, 2600)
        );
        assert_eq!(
            (rules.min_aspect, rules.max_aspect, rules.min_white_border),
            (0.60, 0.85, 0.90)
        );
        assert_eq!(rules.max_age_days, 183);
    }
}
