//! Automatic checks of an uploaded ID photo before any person sees it (R5, R15).
//!
//! Longer than 600 lines on purpose: the checks run in one order over one decoded image and one report, and a
//! reviewer's question ("why was this refused?") is answered by reading them top to bottom in one file.

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
    run_checks(bytes, declared, today, rules).0
}

/// A photo that passed every automatic check, re-encoded from its pixels: what reviewers open and what the
/// licence's portrait is made of, never the uploaded file itself.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedPhoto {
    pub inspection: Inspection,
    /// The clean copy (see [`super::portrait::clean_copy`]).
    pub clean: super::portrait::CleanCopy,
}

/// Runs every automatic check, and when all pass makes the clean copy from the pixels already decoded;
/// `Err` carries the inspection of a photo that failed (or, rarely, one whose pixels could not be encoded).
pub fn check_and_clean(
    bytes: &[u8],
    declared: ImageType,
    today: NaiveDate,
    rules: &PhotoRules,
) -> Result<CheckedPhoto, Inspection> {
    let (mut inspection, image) = run_checks(bytes, declared, today, rules);
    let Some(image) = image.filter(|_| inspection.passed()) else {
        return Err(inspection);
    };
    match super::portrait::clean_copy(&image) {
        Some(clean) => Ok(CheckedPhoto { inspection, clean }),
        None => {
            inspection.record(CheckResult::fail(
                "re-encode",
                "The photo's picture could not be saved again; export it as JPEG or PNG and upload it again."
                    .to_string(),
            ));
            Err(inspection)
        }
    }
}

fn run_checks(
    bytes: &[u8],
    declared: ImageType,
    today: NaiveDate,
    rules: &PhotoRules,
) -> (Inspection, Option<DynamicImage>) {
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
        return (inspection, None);
    }
    if !inspection.record(check_file_type(bytes, declared)) {
        return (inspection, None);
    }
    let header = ImageReader::with_format(Cursor::new(bytes), declared.format()).into_dimensions();
    if let Ok((width, height)) = header {
        inspection.width = Some(width);
        inspection.height = Some(height);
    }
    if !inspection.record(check_dimensions(header.ok(), rules)) {
        return (inspection, None);
    }
    let image = match decode(bytes, declared, rules) {
        Some(image) => image,
        None => {
            inspection.record(CheckResult::fail(
                "decodes",
                "The photo file is incomplete or damaged; upload the original file again.".to_string(),
            ));
            return (inspection, None);
        }
    };
    inspection.record(CheckResult::pass(
        "decodes",
        "The photo file is complete and readable.".to_string(),
    ));
    // A gate too: a file carrying anything besides its picture (a web page or an archive after the image's
    // end, a chunk altered by hand) is not a photo straight from a camera, whatever its pixels show.
    if !inspection.record(check_structure(bytes, declared)) {
        return (inspection, None);
    }

    inspection.record(check_aspect_ratio(image.width(), image.height(), rules));
    inspection.record(check_background(&image, rules));
    let captured = capture_date(bytes);
    if let CaptureDate::At(at) = captured {
        inspection.captured_at = Some(at);
    }
    inspection.record(check_capture_date(&captured, today, rules));
    (inspection, Some(image))
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

/// Walks the file's own structure, which decoders do not: they stop at the picture's last data and never
/// look at checksums of chunks they skip or at what follows the end of the image.
fn check_structure(bytes: &[u8], declared: ImageType) -> CheckResult {
    let found = match declared {
        ImageType::Png => png_structure(bytes),
        ImageType::Jpeg => jpeg_structure(bytes),
    };
    match found {
        Ok(()) => CheckResult::pass(
            "structure",
            format!("The file is a plain {} image with nothing added.", declared.name()),
        ),
        Err(StructureFault::Trailing(extra)) => CheckResult::fail(
            "structure",
            format!(
                "The file carries {} of other data after the end of the picture; save the photo again as a plain {} file and upload that.",
                human_size(extra),
                declared.name()
            ),
        ),
        Err(StructureFault::Damaged(what)) => CheckResult::fail(
            "structure",
            format!(
                "The file is damaged ({what}); save the photo again as a plain {} file and upload that.",
                declared.name()
            ),
        ),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StructureFault {
    /// This many bytes follow the end-of-image marker (JPEG) or the `IEND` chunk (PNG).
    Trailing(usize),
    Damaged(&'static str),
}

/// Every chunk from `IHDR` to `IEND` with its CRC, and nothing after `IEND`.
fn png_structure(bytes: &[u8]) -> Result<(), StructureFault> {
    let mut at = ImageType::Png.magic().len();
    let mut first = true;
    loop {
        let header = bytes
            .get(at..at + 8)
            .ok_or(StructureFault::Damaged("the file ends inside a chunk"))?;
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let kind = &header[4..8];
        if first && kind != b"IHDR" {
            return Err(StructureFault::Damaged("the header chunk is not first"));
        }
        first = false;
        let end = at
            .checked_add(8 + length)
            .filter(|end| end + 4 <= bytes.len())
            .ok_or(StructureFault::Damaged("the file ends inside a chunk"))?;
        let stored = u32::from_be_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
        if crc32fast::hash(&bytes[at + 4..end]) != stored {
            return Err(StructureFault::Damaged("a chunk's checksum is wrong"));
        }
        at = end + 4;
        if kind == b"IEND" {
            return match bytes.len() - at {
                0 => Ok(()),
                extra => Err(StructureFault::Trailing(extra)),
            };
        }
    }
}

/// Segments by their lengths, each scan's data up to the next marker, until the end-of-image marker, with
/// nothing after it. An EXIF thumbnail's own markers sit inside a segment and are skipped with it.
fn jpeg_structure(bytes: &[u8]) -> Result<(), StructureFault> {
    const CUT: StructureFault = StructureFault::Damaged("the file ends before the end of the picture");
    let mut at = 2;
    loop {
        if bytes.get(at) != Some(&0xFF) {
            return Err(StructureFault::Damaged("a marker is missing between segments"));
        }
        while bytes.get(at) == Some(&0xFF) {
            at += 1;
        }
        let &marker = bytes.get(at).ok_or(CUT)?;
        at += 1;
        match marker {
            0xD9 => {
                return match bytes.len() - at {
                    0 => Ok(()),
                    extra => Err(StructureFault::Trailing(extra)),
                }
            }
            0xD8 => return Err(StructureFault::Damaged("a second start of image")),
            0x00 => return Err(StructureFault::Damaged("a stray byte between segments")),
            0x01 | 0xD0..=0xD7 => {}
            _ => {
                let length = bytes.get(at..at + 2).ok_or(CUT)?;
                let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
                if length < 2 || at + length > bytes.len() {
                    return Err(StructureFault::Damaged("a segment's length is wrong"));
                }
                at += length;
                if marker == 0xDA {
                    at = end_of_scan(bytes, at).ok_or(CUT)?;
                }
            }
        }
    }
}

/// Where the marker after a scan's entropy-coded data starts: inside it every 0xFF is followed by a stuffed
/// zero, a restart marker or more fill bytes.
fn end_of_scan(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        at += bytes.get(at..)?.iter().position(|&b| b == 0xFF)?;
        match *bytes.get(at + 1)? {
            0x00 | 0xD0..=0xD7 => at += 2,
            0xFF => at += 1,
            _ => return Some(at),
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

/// What the photo's EXIF says about when it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CaptureDate {
    /// No EXIF, or no date in it: photos scanned or exported from an album often carry none.
    Unrecorded,
    At(NaiveDateTime),
    /// A date field no calendar has (second 60, month 13, `9999:99:99`) or that is not a date at all: the
    /// file was made or altered by hand, and reading it as "no date" would skip the age check.
    Impossible(String),
}

/// The capture date the camera recorded: `DateTimeOriginal`, else `DateTime`.
fn capture_date(bytes: &[u8]) -> CaptureDate {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return CaptureDate::Unrecorded;
    };
    let Some(field) = [exif::Tag::DateTimeOriginal, exif::Tag::DateTime]
        .into_iter()
        .find_map(|tag| exif.get_field(tag, exif::In::PRIMARY))
    else {
        return CaptureDate::Unrecorded;
    };
    // At most a short prefix of what the file says is quoted back.
    let shown = |raw: &[u8]| {
        let text: String = String::from_utf8_lossy(raw).chars().take(24).collect();
        CaptureDate::Impossible(text.trim_end_matches('\0').to_string())
    };
    let exif::Value::Ascii(ref values) = field.value else {
        return CaptureDate::Impossible("a value that is not text".into());
    };
    let Some(raw) = values.first() else {
        return CaptureDate::Impossible("an empty value".into());
    };
    // EXIF writes an unknown date as blanks between the colons.
    if raw.iter().all(|&b| matches!(b, b' ' | b':' | 0)) {
        return CaptureDate::Unrecorded;
    }
    let Ok(at) = exif::DateTime::from_ascii(raw) else {
        return shown(raw);
    };
    NaiveDate::from_ymd_opt(i32::from(at.year), u32::from(at.month), u32::from(at.day))
        .and_then(|date| date.and_hms_opt(u32::from(at.hour), u32::from(at.minute), u32::from(at.second)))
        .map_or_else(|| shown(raw), CaptureDate::At)
}

fn check_capture_date(captured: &CaptureDate, today: NaiveDate, rules: &PhotoRules) -> CheckResult {
    let captured_at = match captured {
        CaptureDate::Unrecorded => {
            // The reviewer judges the age of photos that carry no date.
            return CheckResult::pass(
                "capture-date",
                "No capture date was recorded in the photo, so its age is left to the reviewer.".to_string(),
            );
        }
        CaptureDate::Impossible(raw) => {
            return CheckResult::fail(
                "capture-date",
                format!(
                    "The photo's recorded capture date ({raw:?}) is not a real date and time; upload the photo as the camera saved it."
                ),
            )
        }
        CaptureDate::At(at) => *at,
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

    const ALL: [&str; 8] = [
        "file-size",
        "file-type",
        "dimensions",
        "decodes",
        "structure",
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
            inspection.checks[7].message.contains("No capture date"),
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
        assert_eq!(failed_codes(&run(&[], ImageType::Png)), ["file-size"]);
    }

    const BEFORE_STRUCTURE: [&str; 5] = ["file-size", "file-type", "dimensions", "decodes", "structure"];

    #[test]
    fn anything_after_the_end_of_the_picture_fails_structure() {
        let html = b"<html><body><script>alert(document.cookie)</script></body></html>".repeat(4);
        // A ZIP archive's local header and its end-of-directory record: a photo that is also an archive.
        let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x00\x00".to_vec();
        zip.extend_from_slice(b"payload.exePK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00");
        for (bytes, declared) in [
            (id_photo_jpeg(360, 480), ImageType::Jpeg),
            (id_photo_png(360, 480), ImageType::Png),
        ] {
            assert!(run(&bytes, declared).passed());
            for trailer in [&html, &zip, &vec![0u8; 100_000]] {
                let mut polyglot = bytes.clone();
                polyglot.extend_from_slice(trailer);
                let inspection = run(&polyglot, declared);
                assert_eq!(codes(&inspection), BEFORE_STRUCTURE, "{inspection:#?}");
                assert_eq!(failed_codes(&inspection), ["structure"]);
                let message = &inspection.failures()[0].message;
                assert!(message.contains("after the end of the picture"), "{message}");
            }
        }
        let mut one_byte = id_photo_jpeg(360, 480);
        one_byte.push(0);
        assert!(run(&one_byte, ImageType::Jpeg).failures()[0]
            .message
            .contains("1 bytes of other data"));
    }

    #[test]
    fn a_png_with_a_wrong_checksum_fails_structure() {
        let bytes = png_with_bad_crc(&id_photo_png(360, 480));
        // The decoder alone would take it: it stops at the last image data.
        assert!(decode(&bytes, ImageType::Png, &PhotoRules::default()).is_some());
        let inspection = run(&bytes, ImageType::Png);
        assert_eq!(codes(&inspection), BEFORE_STRUCTURE, "{inspection:#?}");
        assert!(inspection.failures()[0].message.contains("checksum is wrong"));
        // A damaged IEND too.
        let mut end = id_photo_png(360, 480);
        let last = end.len() - 1;
        end[last] ^= 1;
        assert_eq!(failed_codes(&run(&end, ImageType::Png)), ["structure"]);
    }

    #[test]
    fn jpeg_structure_follows_segments_scans_and_thumbnails() {
        let photo = id_photo_jpeg(360, 480);
        assert_eq!(jpeg_structure(&photo), Ok(()));
        // An EXIF block (whose own bytes are skipped by its length) is structure, not trailer.
        let dated = with_exif_capture_date(&photo, at("2026-10-01 10:00:00"));
        assert_eq!(jpeg_structure(&dated), Ok(()));
        let mut two = photo.clone();
        two.extend_from_slice(&photo);
        assert_eq!(jpeg_structure(&two), Err(StructureFault::Trailing(photo.len())));
        assert!(matches!(
            jpeg_structure(&photo[..photo.len() - 2]),
            Err(StructureFault::Damaged(_))
        ));
        assert!(matches!(
            jpeg_structure(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01]),
            Err(StructureFault::Damaged(_))
        ));
        assert_eq!(png_structure(&id_photo_png(360, 480)), Ok(()));
        assert!(matches!(
            png_structure(&id_photo_png(360, 480)[..100]),
            Err(StructureFault::Damaged(_))
        ));
    }

    #[test]
    fn impossible_capture_dates_fail_and_a_blank_one_is_no_date() {
        let photo = id_photo_jpeg(360, 480);
        for date in [
            "2026:06:30 23:59:60",
            "2026:13:01 10:00:00",
            "2026:02:30 10:00:00",
            "9999:99:99 99:99:99",
        ] {
            let inspection = run(&with_exif_capture_text(&photo, date), ImageType::Jpeg);
            assert_eq!(codes(&inspection), ALL, "{date}");
            assert_eq!(failed_codes(&inspection), ["capture-date"], "{date}: {inspection:#?}");
            let message = &inspection.failures()[0].message;
            assert!(message.contains("not a real date"), "{date}: {message}");
            assert!(message.contains(&date[..10]), "{date}: {message}");
            assert_eq!(inspection.captured_at, None);
        }
        let far = run(&with_exif_capture_text(&photo, "9999:12:31 23:59:59"), ImageType::Jpeg);
        assert_eq!(failed_codes(&far), ["capture-date"], "{far:#?}");
        assert!(far.failures()[0].message.contains("future"));
        let blank = run(&with_exif_capture_text(&photo, "    :  :     :  :  "), ImageType::Jpeg);
        assert!(blank.passed(), "{blank:#?}");
        assert!(blank.checks[7].message.contains("No capture date"));
    }

    #[test]
    fn a_checked_photo_comes_with_a_clean_copy_of_its_pixels() {
        let dated = with_exif_capture_date(&id_photo_jpeg(360, 480), at("2026-10-01 10:00:00"));
        let checked = check_and_clean(&dated, ImageType::Jpeg, today(), &PhotoRules::default()).unwrap();
        assert!(checked.inspection.passed());
        let clean = &checked.clean;
        assert_eq!((clean.width, clean.height), (360, 480));
        assert_eq!(clean.sha256, hex::encode(Sha256::digest(&clean.jpeg)));
        assert!(exif::Reader::new()
            .read_from_container(&mut Cursor::new(&clean.jpeg))
            .is_err());
        assert_eq!(jpeg_structure(&clean.jpeg), Ok(()));
        // The same pixels give the same copy, whatever metadata the upload carried.
        let plain = check_and_clean(
            &id_photo_jpeg(360, 480),
            ImageType::Jpeg,
            today(),
            &PhotoRules::default(),
        );
        assert_eq!(plain.unwrap().clean, checked.clean);
        // The clean copy passes the checks itself, as a photo of its own.
        assert!(run(&clean.jpeg, ImageType::Jpeg).passed());
        let png = check_and_clean(&id_photo_png(360, 480), ImageType::Png, today(), &PhotoRules::default());
        assert!(png.unwrap().clean.jpeg.starts_with(&[0xFF, 0xD8, 0xFF]));
        let refused = check_and_clean(
            &coloured_background_jpeg(360, 480, [60, 110, 200]),
            ImageType::Jpeg,
            today(),
            &PhotoRules::default(),
        );
        assert_eq!(failed_codes(&refused.unwrap_err()), ["background"]);
    }

    #[test]
    fn the_exif_crate_reads_the_generated_capture_date() {
        let bytes = with_exif_capture_date(&id_photo_jpeg(360, 480), at("2025-01-01 09:30:05"));
        let exif = exif::Reader::new()
            .read_from_container(&mut Cursor::new(&bytes))
            .unwrap();
        let field = exif.get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY).unwrap();
        assert_eq!(field.display_value().to_string(), "2025-01-01 09:30:05");
        assert_eq!(capture_date(&bytes), CaptureDate::At(at("2025-01-01 09:30:05")));
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
