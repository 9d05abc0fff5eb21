//! The front and back pages of the electronic licence (R6), as SVG and as PNG.
//!
//! Both renderers draw from one layout (positions in SVG units on an ID-1
//! sized 856x540 card), so the two formats cannot drift apart. The SVG carries
//! every field in Chinese and English. The PNG is drawn without any font file
//! (the Lambda image has none): its only text is what a built-in 5x7 bitmap
//! font can draw, upper-case ASCII letters, digits and ` :-./_`, so Chinese
//! text (name, address, rules, labels) appears in the SVG only, and a PNG
//! field containing anything else is left out rather than shown mangled.

use crate::credential::barcode::{self, BarcodeError};
use base64::Engine as _;
use image::{imageops::FilterType, Rgb, RgbImage};
use qrcode::{EcLevel, QrCode};
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("the portrait is not an image that can be read: {0}")]
    Portrait(String),
    #[error("the show code does not fit in a QR code on the page: {0}")]
    ShowCode(String),
    #[error("the barcode cannot be drawn: {0}")]
    Barcode(#[from] BarcodeError),
    #[error("the PNG could not be written: {0}")]
    Encode(String),
}

/// What the front page shows; all text as it should read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FrontPage {
    pub name: String,
    pub sex: String,
    pub nationality: String,
    pub birth_date: String,
    pub licence_number: String,
    pub classes: String,
    pub valid_from: String,
    pub valid_to: String,
    pub first_issue_date: String,
    pub archive_number: String,
    pub generated_at: String,
    /// "green" or "red"; anything else shows a grey band.
    pub status: String,
    /// Empty when there is no live code (the licence is not active): the page
    /// then says so where the QR code would be.
    pub show_code: String,
    /// Empty for no barcode.
    pub barcode_data: String,
    /// JPEG (PNG is accepted too).
    pub portrait_jpeg: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackPage {
    pub address: String,
    pub issuing_authority: String,
    pub points: u8,
    pub states: Vec<String>,
    /// Driving record lines, oldest first.
    pub record: Vec<String>,
    /// (class code, rule).
    pub class_rules: Vec<(String, String)>,
}

/// Card size in SVG units (ID-1, 85.60 x 53.98 mm).
const CARD_W: f32 = 856.0;
const CARD_H: f32 = 540.0;
/// PNG pixels per SVG unit: at 2 a show code of a few hundred characters gets 7-8 px per QR module.
const PNG_SCALE: f32 = 2.0;
/// QR quiet zone in modules (ISO/IEC 18004 asks for four).
const QR_QUIET: usize = 4;
const MIN_PX_PER_MODULE: usize = 4;
/// Decoding limits for the portrait: an ID photo is far below these.
const PORTRAIT_MAX_SIDE: u32 = 6000;
const PORTRAIT_MAX_ALLOC: u64 = 256 << 20;
const FONT_STACK: &str = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif";
const TITLE: &str = "中华人民共和国机动车驾驶证 电子驾驶证";

#[derive(Clone, Copy)]
struct Rect {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

#[derive(Clone, Copy, PartialEq)]
enum Anchor {
    Start,
    Middle,
}

struct Text {
    x: f32,
    /// Baseline.
    y: f32,
    size: f32,
    bold: bool,
    anchor: Anchor,
    fill: &'static str,
    svg: String,
    /// What the PNG draws, if the bitmap font can draw it.
    png: Option<String>,
}

impl Text {
    fn new(x: f32, y: f32, size: f32, svg: impl Into<String>, png: Option<String>) -> Self {
        Text {
            x,
            y,
            size,
            bold: false,
            anchor: Anchor::Start,
            fill: "#111",
            svg: svg.into(),
            png,
        }
    }
    fn bold(mut self) -> Self {
        self.bold = true;
        self
    }
    fn anchor(mut self, anchor: Anchor) -> Self {
        self.anchor = anchor;
        self
    }
    fn fill(mut self, fill: &'static str) -> Self {
        self.fill = fill;
        self
    }
}

/// A label over a value: the label bilingual in the SVG, its English part in the PNG.
fn field(texts: &mut Vec<Text>, x: f32, y: f32, zh: &str, en: &str, value: &str) {
    texts.push(Text::new(x, y, 11.0, format!("{zh} {en}"), Some(en.to_ascii_uppercase())).fill("#5b6770"));
    texts.push(Text::new(x, y + 21.0, 17.0, value, drawable(value)).bold());
}

fn status_of(status: &str) -> (&'static str, [u8; 3], &'static str, &'static str) {
    match status.trim().to_ascii_lowercase().as_str() {
        "green" => ("#1b8a3c", [0x1b, 0x8a, 0x3c], "绿", "GREEN"),
        "red" => ("#c62828", [0xc6, 0x28, 0x28], "红", "RED"),
        _ => ("#757575", [0x75, 0x75, 0x75], "未知", "UNKNOWN"),
    }
}

struct FrontLayout {
    texts: Vec<Text>,
    band: Rect,
    band_fill: (&'static str, [u8; 3]),
    portrait: Rect,
    qr: Rect,
    barcode: Rect,
}

fn front_layout(page: &FrontPage) -> FrontLayout {
    let mut t = Vec::new();
    t.push(
        Text::new(
            CARD_W / 2.0,
            40.0,
            24.0,
            TITLE,
            Some("ELECTRONIC DRIVING LICENCE".into()),
        )
        .bold()
        .anchor(Anchor::Middle),
    );
    t.push(
        Text::new(
            CARD_W / 2.0,
            62.0,
            12.0,
            "Motor Vehicle Driving Licence of the People's Republic of China · Electronic Driving Licence",
            None,
        )
        .anchor(Anchor::Middle)
        .fill("#5b6770"),
    );
    let band = Rect {
        x: 0.0,
        y: 74.0,
        w: CARD_W,
        h: 30.0,
    };
    let (svg_fill, rgb, zh, en) = status_of(&page.status);
    t.push(
        Text::new(
            CARD_W / 2.0,
            95.0,
            16.0,
            format!("状态 Status: {zh} {en}"),
            Some(format!("STATUS {en}")),
        )
        .bold()
        .anchor(Anchor::Middle)
        .fill("#fff"),
    );

    let (c1, c2) = (220.0, 400.0);
    field(&mut t, c1, 136.0, "姓名", "Name", &page.name);
    field(&mut t, c1, 186.0, "性别", "Sex", &page.sex);
    field(&mut t, c2, 186.0, "国籍", "Nationality", &page.nationality);
    field(&mut t, c1, 236.0, "出生日期", "Date of birth", &page.birth_date);
    field(&mut t, c2, 236.0, "初次领证日期", "First issue", &page.first_issue_date);
    field(&mut t, c1, 286.0, "证号", "Licence no.", &page.licence_number);
    field(&mut t, c1, 336.0, "准驾车型", "Classes", &page.classes);
    field(&mut t, c2, 336.0, "档案编号", "File no.", &page.archive_number);
    field(&mut t, c1, 386.0, "有效期起始日期", "Valid from", &page.valid_from);
    field(&mut t, c2, 386.0, "有效期截止日期", "Valid to", &page.valid_to);

    let qr = Rect {
        x: 596.0,
        y: 120.0,
        w: 228.0,
        h: 228.0,
    };
    let (qx, qy) = (qr.x + qr.w / 2.0, qr.y + qr.h + 18.0);
    if page.show_code.is_empty() {
        t.push(
            Text::new(
                qx,
                qr.y + qr.h / 2.0,
                14.0,
                "出示码不可用 No show code",
                Some("NO SHOW CODE".into()),
            )
            .anchor(Anchor::Middle)
            .fill("#5b6770"),
        );
    }
    t.push(
        Text::new(
            qx,
            qy,
            11.0,
            "出示码 Show code · 生成时间 Generated",
            Some("GENERATED".into()),
        )
        .anchor(Anchor::Middle)
        .fill("#5b6770"),
    );
    t.push(Text::new(qx, qy + 20.0, 15.0, &page.generated_at, drawable(&page.generated_at)).anchor(Anchor::Middle));

    let barcode = Rect {
        x: 32.0,
        y: 428.0,
        w: 520.0,
        h: 52.0,
    };
    if !page.barcode_data.is_empty() {
        t.push(
            Text::new(
                barcode.x + barcode.w / 2.0,
                506.0,
                15.0,
                &page.barcode_data,
                drawable(&page.barcode_data),
            )
            .anchor(Anchor::Middle),
        );
    }
    FrontLayout {
        texts: t,
        band,
        band_fill: (svg_fill, rgb),
        portrait: Rect {
            x: 32.0,
            y: 124.0,
            w: 168.0,
            h: 224.0,
        },
        qr,
        barcode,
    }
}

struct BackLayout {
    texts: Vec<Text>,
    height: f32,
}

/// The back grows downwards when its lists are long: a licence record must
/// never be cut off to keep the card's proportions.
fn back_layout(page: &BackPage) -> BackLayout {
    let mut t = Vec::new();
    t.push(
        Text::new(
            CARD_W / 2.0,
            40.0,
            24.0,
            format!("{TITLE} 副页"),
            Some("ELECTRONIC DRIVING LICENCE".into()),
        )
        .bold()
        .anchor(Anchor::Middle),
    );
    t.push(
        Text::new(
            CARD_W / 2.0,
            62.0,
            12.0,
            "Supplementary page",
            Some("SUPPLEMENTARY PAGE".into()),
        )
        .anchor(Anchor::Middle)
        .fill("#5b6770"),
    );
    let x = 32.0;
    let width = CARD_W - 2.0 * x;
    let mut y = 100.0;
    let section = |t: &mut Vec<Text>, y: &mut f32, zh: &str, en: &str, lines: Vec<(String, Option<String>)>| {
        t.push(Text::new(x, *y, 11.0, format!("{zh} {en}"), Some(en.to_ascii_uppercase())).fill("#5b6770"));
        *y += 21.0;
        for (svg, png) in lines {
            t.push(Text::new(x, *y, 16.0, svg, png));
            *y += 22.0;
        }
        *y += 12.0;
    };
    let wrapped = |s: &str| -> Vec<(String, Option<String>)> {
        wrap(s, width, 16.0)
            .into_iter()
            .map(|l| {
                let p = drawable(&l);
                (l, p)
            })
            .collect()
    };
    section(&mut t, &mut y, "住址", "Address", wrapped(&page.address));
    section(
        &mut t,
        &mut y,
        "发证机关",
        "Issuing authority",
        wrapped(&page.issuing_authority),
    );
    let points = page.points.to_string();
    section(
        &mut t,
        &mut y,
        "累积记分",
        "Points",
        vec![(points.clone(), Some(points))],
    );
    let states = if page.states.is_empty() {
        vec![("无 None".to_string(), Some("NONE".to_string()))]
    } else {
        wrapped(&page.states.join("、"))
            .into_iter()
            .map(|(svg, _)| {
                let png = drawable(&svg.replace('、', " "));
                (svg, png)
            })
            .collect()
    };
    section(&mut t, &mut y, "状态", "States", states);
    let rules = page
        .class_rules
        .iter()
        .flat_map(|(code, rule)| {
            let mut lines = wrapped(&format!("{code}  {rule}"));
            // The code alone is what the bitmap font can show of a Chinese rule.
            if let Some(first) = lines.first_mut() {
                first.1 = first.1.take().or_else(|| drawable(code));
            }
            lines
        })
        .collect();
    section(&mut t, &mut y, "准驾车型代号规定", "Class rules", rules);
    let record = if page.record.is_empty() {
        vec![("无 None".to_string(), Some("NONE".to_string()))]
    } else {
        page.record.iter().flat_map(|line| wrapped(line)).collect()
    };
    section(&mut t, &mut y, "记录", "Driving record", record);
    BackLayout {
        texts: t,
        height: (y + 20.0).max(CARD_H),
    }
}

/// Breaks `text` into lines no wider than `width` at `size`, estimating
/// widths (there is no font metrics here): wide (CJK) characters one em,
/// others about half.
fn wrap(text: &str, width: f32, size: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut used = 0.0;
        for c in paragraph.chars() {
            let w = if (c as u32) < 0x1100 { 0.56 } else { 1.0 } * size;
            if used + w > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                used = 0.0;
            }
            line.push(c);
            used += w;
        }
        lines.push(line);
    }
    lines
}

/// Renders the front page as a standalone SVG document. Never fails: a show
/// code or barcode that cannot be drawn leaves its place empty (the PNG
/// renderer reports those as errors instead).
pub fn front_svg(page: &FrontPage) -> String {
    let layout = front_layout(page);
    let mut s = svg_open(CARD_H, &format!("电子驾驶证 {}", page.name));
    let b = layout.band;
    let _ = write!(
        s,
        r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
        b.x, b.y, b.w, b.h, layout.band_fill.0
    );

    let p = layout.portrait;
    let _ = write!(
        s,
        r#"<clipPath id="portrait-clip"><rect x="{}" y="{}" width="{}" height="{}" rx="6"/></clipPath>"#,
        p.x, p.y, p.w, p.h
    );
    let _ = write!(
        s,
        r##"<rect x="{}" y="{}" width="{}" height="{}" rx="6" fill="#eef1f4" stroke="#c9d3dc"/>"##,
        p.x, p.y, p.w, p.h
    );
    match page.portrait_jpeg.as_deref().and_then(image_mime) {
        Some(mime) => {
            let data =
                base64::engine::general_purpose::STANDARD.encode(page.portrait_jpeg.as_deref().unwrap_or_default());
            let _ = write!(
                s,
                r#"<image id="portrait" x="{}" y="{}" width="{}" height="{}" preserveAspectRatio="xMidYMid slice" clip-path="url(#portrait-clip)" href="data:{mime};base64,{data}"/>"#,
                p.x, p.y, p.w, p.h
            );
        }
        None => {
            let _ = write!(
                s,
                r##"<text x="{}" y="{}" font-size="13" text-anchor="middle" fill="#5b6770">无照片 No photo</text>"##,
                p.x + p.w / 2.0,
                p.y + p.h / 2.0
            );
        }
    }

    if let Some(code) = qr_of(&page.show_code) {
        let q = layout.qr;
        let modules = code.width() + 2 * QR_QUIET;
        let unit = q.w / modules as f32;
        let _ = write!(
            s,
            r##"<g id="show-code-qr" transform="translate({},{}) scale({unit})" shape-rendering="crispEdges"><rect width="{modules}" height="{modules}" fill="#fff"/><path fill="#000" d=""##,
            q.x, q.y
        );
        let colors = code.to_colors();
        let width = code.width();
        for (row, line) in colors.chunks(width).enumerate() {
            let mut col = 0;
            while col < width {
                if line[col] == qrcode::Color::Dark {
                    let run = line[col..].iter().take_while(|&&c| c == qrcode::Color::Dark).count();
                    let _ = write!(s, "M{},{}h{run}v1h-{run}z", col + QR_QUIET, row + QR_QUIET);
                    col += run;
                } else {
                    col += 1;
                }
            }
        }
        s.push_str(r#""/></g>"#);
    }

    if let Ok(modules) = code128(&page.barcode_data) {
        let r = layout.barcode;
        let unit = r.w / modules.len() as f32;
        let _ = write!(s, r##"<g id="barcode" fill="#000" shape-rendering="crispEdges">"##);
        for (start, len) in barcode::bar_runs(&modules) {
            let _ = write!(
                s,
                r#"<rect x="{}" y="{}" width="{}" height="{}"/>"#,
                r.x + start as f32 * unit,
                r.y,
                len as f32 * unit,
                r.h
            );
        }
        s.push_str("</g>");
    }
    svg_texts(&mut s, &layout.texts);
    s.push_str("</svg>");
    s
}

/// Renders the back page as a standalone SVG document.
pub fn back_svg(page: &BackPage) -> String {
    let layout = back_layout(page);
    let mut s = svg_open(layout.height, "电子驾驶证 副页");
    svg_texts(&mut s, &layout.texts);
    s.push_str("</svg>");
    s
}

fn svg_open(height: f32, title: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{CARD_W}" height="{height}" viewBox="0 0 {CARD_W} {height}" font-family="{FONT_STACK}"><title>{}</title><rect x="0.5" y="0.5" width="{}" height="{}" rx="24" fill="#fff" stroke="#c9d3dc"/>"##,
        esc(title),
        CARD_W - 1.0,
        height - 1.0
    )
}

fn svg_texts(s: &mut String, texts: &[Text]) {
    for t in texts {
        let anchor = match t.anchor {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
        };
        let weight = if t.bold { r#" font-weight="bold""# } else { "" };
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="{}" text-anchor="{anchor}" fill="{}"{weight}>{}</text>"#,
            t.x,
            t.y,
            t.size,
            t.fill,
            esc(&t.svg)
        );
    }
}

/// Escapes text for XML content and attributes, replacing characters XML 1.0 cannot carry.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn image_mime(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

fn qr_of(show_code: &str) -> Option<QrCode> {
    if show_code.is_empty() {
        return None;
    }
    QrCode::with_error_correction_level(show_code.as_bytes(), EcLevel::M).ok()
}

fn code128(data: &str) -> Result<Vec<bool>, BarcodeError> {
    barcode::code128_modules(data)
}

/// Renders the front page as PNG (1712x1080): portrait, QR code (at least
/// four pixels a module, four-module quiet zone), barcode, status band, and
/// the ASCII fields in the built-in bitmap font.
pub fn front_png(page: &FrontPage) -> Result<Vec<u8>, PageError> {
    let layout = front_layout(page);
    let mut img = blank(CARD_H);
    fill(&mut img, px_rect(layout.band), Rgb(layout.band_fill.1));

    let p = px_rect(layout.portrait);
    fill(&mut img, p, Rgb([0xee, 0xf1, 0xf4]));
    if let Some(bytes) = &page.portrait_jpeg {
        let portrait = decode_portrait(bytes)?;
        let fitted = portrait.resize_to_fill(p.2, p.3, FilterType::Triangle).to_rgb8();
        image::imageops::replace(&mut img, &fitted, i64::from(p.0), i64::from(p.1));
    }

    if !page.show_code.is_empty() {
        let code = QrCode::with_error_correction_level(page.show_code.as_bytes(), EcLevel::M)
            .map_err(|e| PageError::ShowCode(e.to_string()))?;
        let q = px_rect(layout.qr);
        let modules = code.width() + 2 * QR_QUIET;
        let per = q.2 as usize / modules;
        if per < MIN_PX_PER_MODULE {
            return Err(PageError::ShowCode(format!(
                "{modules} modules do not fit {} px at {MIN_PX_PER_MODULE} px each",
                q.2
            )));
        }
        let side = (per * modules) as u32;
        let (ox, oy) = (q.0 + (q.2 - side) / 2, q.1 + (q.3 - side) / 2);
        fill(&mut img, (ox, oy, side, side), Rgb([255, 255, 255]));
        let width = code.width();
        for (i, c) in code.to_colors().iter().enumerate() {
            if *c == qrcode::Color::Dark {
                let (mx, my) = (i % width + QR_QUIET, i / width + QR_QUIET);
                fill(
                    &mut img,
                    (ox + (mx * per) as u32, oy + (my * per) as u32, per as u32, per as u32),
                    Rgb([0, 0, 0]),
                );
            }
        }
    }

    if !page.barcode_data.is_empty() {
        let modules = code128(&page.barcode_data)?;
        let r = px_rect(layout.barcode);
        let per = (r.2 as usize / modules.len()).max(1) as u32;
        let ox = r.0 + r.2.saturating_sub(per * modules.len() as u32) / 2;
        for (start, len) in barcode::bar_runs(&modules) {
            fill(
                &mut img,
                (ox + start as u32 * per, r.1, len as u32 * per, r.3),
                Rgb([0, 0, 0]),
            );
        }
    }
    png_texts(&mut img, &layout.texts);
    encode_png(&img)
}

/// Renders the back page as PNG (1712 wide, taller when the lists are long).
/// Only its ASCII text (points, class codes, state codes) can be drawn.
pub fn back_png(page: &BackPage) -> Result<Vec<u8>, PageError> {
    let layout = back_layout(page);
    let mut img = blank(layout.height);
    png_texts(&mut img, &layout.texts);
    encode_png(&img)
}

fn decode_portrait(bytes: &[u8]) -> Result<image::DynamicImage, PageError> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PageError::Portrait(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(PORTRAIT_MAX_SIDE);
    limits.max_image_height = Some(PORTRAIT_MAX_SIDE);
    limits.max_alloc = Some(PORTRAIT_MAX_ALLOC);
    reader.limits(limits);
    reader.decode().map_err(|e| PageError::Portrait(e.to_string()))
}

/// A white card with a thin border.
fn blank(height: f32) -> RgbImage {
    let (w, h) = ((CARD_W * PNG_SCALE) as u32, (height * PNG_SCALE) as u32);
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let border = Rgb([0xc9, 0xd3, 0xdc]);
    fill(&mut img, (0, 0, w, 2), border);
    fill(&mut img, (0, h.saturating_sub(2), w, 2), border);
    fill(&mut img, (0, 0, 2, h), border);
    fill(&mut img, (w.saturating_sub(2), 0, 2, h), border);
    img
}

fn px_rect(r: Rect) -> (u32, u32, u32, u32) {
    let px = |v: f32| (v * PNG_SCALE).round().max(0.0) as u32;
    (px(r.x), px(r.y), px(r.w), px(r.h))
}

/// Fills a rectangle, clipped to the image.
fn fill(img: &mut RgbImage, (x, y, w, h): (u32, u32, u32, u32), colour: Rgb<u8>) {
    let (x1, y1) = (
        x.saturating_add(w).min(img.width()),
        y.saturating_add(h).min(img.height()),
    );
    for py in y.min(y1)..y1 {
        for px in x.min(x1)..x1 {
            img.put_pixel(px, py, colour);
        }
    }
}

fn png_texts(img: &mut RgbImage, texts: &[Text]) {
    for t in texts {
        let Some(text) = &t.png else { continue };
        let scale = font_scale(t.size);
        let width = text_width(text, scale);
        let x = (t.x * PNG_SCALE).round() as i64;
        let x = match t.anchor {
            Anchor::Start => x,
            Anchor::Middle => x - i64::from(width) / 2,
        };
        let top = (t.y * PNG_SCALE).round() as i64 - i64::from(GLYPH_H * scale);
        let colour = match t.fill {
            "#fff" => Rgb([255, 255, 255]),
            "#5b6770" => Rgb([0x5b, 0x67, 0x70]),
            _ => Rgb([0x11, 0x11, 0x11]),
        };
        draw_text(img, x.max(0) as u32, top.max(0) as u32, scale, text, colour);
    }
}

/// Bitmap font pixels per glyph pixel for a font size in SVG units: about the cap height.
fn font_scale(size: f32) -> u32 {
    ((size * PNG_SCALE / 10.0).round() as u32).max(1)
}

const GLYPH_W: u32 = 5;
const GLYPH_H: u32 = 7;

/// 5x7 glyphs, one byte a row, bit 4 the leftmost column.
fn glyph(c: char) -> Option<[u8; 7]> {
    Some(match c.to_ascii_uppercase() {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'A' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        ' ' => [0x00; 7],
        _ => return None,
    })
}

/// The text as the bitmap font would draw it, or none if any character is
/// beyond it: half a field could say something the field does not.
fn drawable(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty() && text.chars().all(|c| glyph(c).is_some())).then(|| text.to_ascii_uppercase())
}

fn text_width(text: &str, scale: u32) -> u32 {
    let n = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    n.saturating_mul(GLYPH_W + 1).saturating_sub(1).saturating_mul(scale)
}

/// Draws `text` with its top-left corner at (x, y); characters the font lacks are skipped.
fn draw_text(img: &mut RgbImage, x: u32, y: u32, scale: u32, text: &str, colour: Rgb<u8>) {
    let advance = (GLYPH_W + 1) * scale;
    for (i, c) in text.chars().enumerate() {
        let gx = x.saturating_add((i as u32).saturating_mul(advance));
        // Past the right edge nothing more can show.
        if gx >= img.width() {
            break;
        }
        let Some(rows) = glyph(c) else { continue };
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..GLYPH_W {
                if bits & (0x10 >> col) != 0 {
                    fill(img, (gx + col * scale, y + row as u32 * scale, scale, scale), colour);
                }
            }
        }
    }
}

fn encode_png(img: &RgbImage) -> Result<Vec<u8>, PageError> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| PageError::Encode(e.to_string()))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::showcode;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A real show code from the encoder, signed with a test key.
    fn real_show_code() -> String {
        let claims = showcode::ShowClaims {
            kind: showcode::CodeKind::Licence,
            serial: "110000261125000012348".into(),
            colour: showcode::Colour::Green,
            issued_at: 1_767_225_600,
            expires_at: 1_767_225_780,
            nonce: showcode::random_nonce(),
        };
        let signer = showcode::tests::TestSigner::new(3);
        block_on(showcode::encode(&claims, &signer, "test-key", b"dsc-2026-01")).unwrap()
    }

    fn portrait_jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 128]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&img)
            .unwrap();
        out
    }

    fn front(show_code: String, portrait: Option<Vec<u8>>) -> FrontPage {
        FrontPage {
            name: "张伟 <Zhang & \"Wei\">".into(),
            sex: "男 M".into(),
            nationality: "中国 CHN".into(),
            birth_date: "1990-03-07".into(),
            licence_number: "11010519900307451X".into(),
            classes: "C1 D".into(),
            valid_from: "2020-03-07".into(),
            valid_to: "2030-03-07".into(),
            first_issue_date: "2010-03-07".into(),
            archive_number: "110100123456".into(),
            generated_at: "2026-01-01 08:00:00".into(),
            status: "green".into(),
            show_code,
            barcode_data: barcode::with_check_character("11000026112500001234").unwrap(),
            portrait_jpeg: portrait,
        }
    }

    fn back() -> BackPage {
        BackPage {
            address: "北京市东城区东长安街1号院3号楼2单元501室 <&>".into(),
            issuing_authority: "北京市公安局公安交通管理局".into(),
            points: 6,
            states: vec!["detained".into()],
            record: vec!["2026-01-02 违法记分: 超速50%以上 (points)".into()],
            class_rules: vec![
                ("C1".into(), "小型汽车".into()),
                ("C2".into(), "小型自动挡汽车".into()),
                ("D".into(), "普通三轮摩托车".into()),
            ],
        }
    }

    fn decode_qrs(png: &[u8]) -> Vec<String> {
        let img = image::load_from_memory(png).unwrap().to_luma8();
        let (w, h) = img.dimensions();
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            img.get_pixel(x as u32, y as u32).0[0]
        });
        prepared
            .detect_grids()
            .into_iter()
            .filter_map(|g| g.decode().ok().map(|(_, s)| s))
            .collect()
    }

    /// Reads `len` glyphs back from the image, as drawn by `draw_text`.
    fn read_text(img: &RgbImage, x: u32, y: u32, scale: u32, len: usize) -> String {
        let alphabet: Vec<char> = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ:-./_ ".chars().collect();
        (0..len as u32)
            .map(|i| {
                let gx = x + i * (GLYPH_W + 1) * scale;
                let mut rows = [0u8; 7];
                for (row, bits) in rows.iter_mut().enumerate() {
                    for col in 0..GLYPH_W {
                        let p = img.get_pixel(gx + col * scale + scale / 2, y + row as u32 * scale + scale / 2);
                        if p.0[0] < 128 {
                            *bits |= 0x10 >> col;
                        }
                    }
                }
                alphabet
                    .iter()
                    .copied()
                    .find(|&c| glyph(c) == Some(rows))
                    .unwrap_or('?')
            })
            .collect()
    }

    #[test]
    fn the_qr_in_the_png_reads_back_as_the_show_code() {
        let code = real_show_code();
        assert!((120..400).contains(&code.len()), "{} chars", code.len());
        let png = front_png(&front(code.clone(), Some(portrait_jpeg(300, 400)))).unwrap();
        assert_eq!(decode_qrs(&png), vec![code.clone()]);
        // And it is a show code our own decoder accepts.
        showcode::decode(
            &decode_qrs(&png)[0],
            showcode::CodeKind::Licence,
            showcode::DEFAULT_MAX_INFLATED,
        )
        .unwrap();
    }

    #[test]
    fn the_qr_has_at_least_four_pixels_a_module_and_a_quiet_zone() {
        let code = real_show_code();
        let qr = QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M).unwrap();
        let img = image::load_from_memory(&front_png(&front(code, None)).unwrap())
            .unwrap()
            .to_rgb8();
        let q = px_rect(front_layout(&FrontPage::default()).qr);
        let modules = qr.width() as u32 + 8;
        let per = q.2 / modules;
        assert!(per >= 4, "{per} px a module");
        let side = per * modules;
        let (ox, oy) = (q.0 + (q.2 - side) / 2, q.1 + (q.3 - side) / 2);
        // The quiet zone is white all round, the first finder pattern module dark.
        for i in 0..side {
            for d in 0..4 * per {
                for (x, y) in [
                    (ox + i, oy + d),
                    (ox + d, oy + i),
                    (ox + i, oy + side - 1 - d),
                    (ox + side - 1 - d, oy + i),
                ] {
                    assert_eq!(img.get_pixel(x, y).0, [255, 255, 255], "({x},{y})");
                }
            }
        }
        assert_eq!(img.get_pixel(ox + 4 * per, oy + 4 * per).0, [0, 0, 0]);
    }

    #[test]
    fn the_png_carries_the_ascii_fields() {
        let page = front(real_show_code(), None);
        let img = image::load_from_memory(&front_png(&page).unwrap()).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (1712, 1080));
        let layout = front_layout(&page);
        let mut found = Vec::new();
        for t in &layout.texts {
            let Some(text) = &t.png else { continue };
            if t.anchor != Anchor::Start {
                continue;
            }
            let scale = font_scale(t.size);
            let top = (t.y * PNG_SCALE) as u32 - GLYPH_H * scale;
            found.push(read_text(
                &img,
                (t.x * PNG_SCALE) as u32,
                top,
                scale,
                text.chars().count(),
            ));
        }
        for expected in [
            "11010519900307451X",
            "1990-03-07",
            "2030-03-07",
            "2010-03-07",
            "110100123456",
            "C1 D",
            "LICENCE NO.",
        ] {
            assert!(found.iter().any(|f| f == expected), "{expected} not in {found:?}");
        }
        // Chinese fields are not drawn at all rather than partly.
        assert!(!found.iter().any(|f| f.contains('M') && f.len() <= 2), "{found:?}");
        assert_eq!(drawable("男 M"), None);
    }

    #[test]
    fn the_png_status_band_is_coloured() {
        let mut page = front(String::new(), None);
        let band = px_rect(front_layout(&page).band);
        let at = (band.0 + 10, band.1 + 5);
        let img = image::load_from_memory(&front_png(&page).unwrap()).unwrap().to_rgb8();
        assert_eq!(img.get_pixel(at.0, at.1).0, [0x1b, 0x8a, 0x3c]);
        page.status = "red".into();
        let img = image::load_from_memory(&front_png(&page).unwrap()).unwrap().to_rgb8();
        assert_eq!(img.get_pixel(at.0, at.1).0, [0xc6, 0x28, 0x28]);
    }

    #[test]
    fn the_png_barcode_reads_back() {
        let page = front(String::new(), None);
        let img = image::load_from_memory(&front_png(&page).unwrap()).unwrap().to_luma8();
        let r = px_rect(front_layout(&page).barcode);
        let y = r.1 + r.3 / 2;
        let row: Vec<bool> = (r.0..r.0 + r.2).map(|x| img.get_pixel(x, y).0[0] < 128).collect();
        let expected = barcode::code128_modules(&page.barcode_data).unwrap();
        let per = r.2 as usize / expected.len();
        let start = row.iter().position(|&b| b).unwrap() - barcode::QUIET_ZONE * per;
        let modules: Vec<bool> = (0..expected.len()).map(|m| row[start + m * per + per / 2]).collect();
        assert_eq!(
            barcode::tests::decode_modules(&modules).as_deref(),
            Ok(page.barcode_data.as_str())
        );
    }

    #[test]
    fn the_portrait_fills_its_box() {
        let page = front(String::new(), Some(portrait_jpeg(600, 800)));
        let img = image::load_from_memory(&front_png(&page).unwrap()).unwrap().to_rgb8();
        let p = px_rect(front_layout(&page).portrait);
        let centre = img.get_pixel(p.0 + p.2 / 2, p.1 + p.3 / 2).0;
        // The gradient's middle, not the empty box's grey.
        assert!(
            (centre[0] as i32 - 127).abs() < 20 && (centre[2] as i32 - 128).abs() < 20,
            "{centre:?}"
        );
    }

    #[test]
    fn a_page_without_a_portrait_still_renders() {
        let page = front(real_show_code(), None);
        let svg = front_svg(&page);
        assert!(svg.contains("No photo"));
        assert!(!svg.contains("<image"));
        let png = front_png(&page).unwrap();
        assert_eq!(image::load_from_memory(&png).unwrap().width(), 1712);
    }

    #[test]
    fn a_page_without_a_show_code_says_so() {
        let page = front(String::new(), None);
        assert!(front_svg(&page).contains("出示码不可用"));
        assert!(!front_svg(&page).contains("show-code-qr"));
        assert!(decode_qrs(&front_png(&page).unwrap()).is_empty());
    }

    #[test]
    fn bad_inputs_are_png_errors_not_panics() {
        let mut page = front(String::new(), Some(b"\xFF\xD8\xFFnot really".to_vec()));
        assert!(matches!(front_png(&page), Err(PageError::Portrait(_))));
        page.portrait_jpeg = None;
        page.barcode_data = "证号".into();
        assert!(matches!(front_png(&page), Err(PageError::Barcode(_))));
        assert!(!front_svg(&page).contains("id=\"barcode\""));
        page.barcode_data.clear();
        // A QR code this large exists (version 40) but not at 4 px a module on the card;
        // the SVG, being vector, still draws it.
        page.show_code = "A".repeat(3000);
        assert!(matches!(front_png(&page), Err(PageError::ShowCode(_))));
        assert!(front_svg(&page).contains("show-code-qr"));
        // Beyond any QR code: an error in PNG, an empty place in SVG.
        page.show_code = "A".repeat(5000);
        assert!(matches!(front_png(&page), Err(PageError::ShowCode(_))));
        assert!(!front_svg(&page).contains("show-code-qr"));
    }

    #[test]
    fn the_svg_escapes_the_name_and_embeds_portrait_qr_and_barcode() {
        let code = real_show_code();
        let jpeg = portrait_jpeg(30, 40);
        let svg = front_svg(&front(code.clone(), Some(jpeg.clone())));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains(TITLE));
        assert!(svg.contains("张伟 &lt;Zhang &amp; &quot;Wei&quot;&gt;"));
        assert!(!svg.contains("<Zhang"));
        assert!(svg.contains("姓名 Name") && svg.contains("证号 Licence no.") && svg.contains("11010519900307451X"));
        assert!(svg.contains(&format!(
            "href=\"data:image/jpeg;base64,{}\"",
            base64::engine::general_purpose::STANDARD.encode(&jpeg)
        )));
        assert!(svg.contains("fill=\"#1b8a3c\""));
        assert!(svg.contains("id=\"barcode\""));
        // The QR path read back into modules decodes to the show code.
        assert_eq!(decode_svg_qr(&svg), code);
        // Every element the card opens, it closes.
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }

    /// Rasterises the `show-code-qr` path (runs of "M x,y h n v1 h-n z") and decodes it.
    fn decode_svg_qr(svg: &str) -> String {
        let group = svg.split("id=\"show-code-qr\"").nth(1).unwrap();
        let size: usize = group
            .split("<rect width=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let d = group.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
        let per = 6;
        let mut img = image::GrayImage::from_pixel((size * per) as u32, (size * per) as u32, image::Luma([255]));
        for run in d.split('M').skip(1) {
            let (xy, rest) = run.split_once('h').unwrap();
            let (x, y) = xy.split_once(',').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let n: usize = rest.split('v').next().unwrap().parse().unwrap();
            for px in x * per..(x + n) * per {
                for py in y * per..(y + 1) * per {
                    img.put_pixel(px as u32, py as u32, image::Luma([0]));
                }
            }
        }
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        grids[0].decode().unwrap().1
    }

    #[test]
    fn the_svg_status_band_follows_the_status() {
        let mut page = front(String::new(), None);
        page.status = "red".into();
        let svg = front_svg(&page);
        assert!(svg.contains("fill=\"#c62828\"") && svg.contains("红 RED"));
        page.status = "purple".into();
        assert!(front_svg(&page).contains("fill=\"#757575\""));
    }

    #[test]
    fn the_back_lists_every_class_rule_and_the_record() {
        let page = back();
        let svg = back_svg(&page);
        for (code, rule) in &page.class_rules {
            assert!(svg.contains(&format!("{code}  {rule}")), "{code}");
        }
        assert!(svg.contains("&lt;&amp;&gt;"));
        assert!(svg.contains("北京市公安局公安交通管理局"));
        assert!(svg.contains("超速50%以上"));
        assert!(svg.contains(">6</text>"));
        assert!(svg.contains(">detained</text>"));
        let png = back_png(&page).unwrap();
        assert_eq!(image::load_from_memory(&png).unwrap().width(), 1712);
    }

    #[test]
    fn a_long_back_grows_instead_of_cutting_lines_off() {
        let mut page = back();
        page.record = (0..40).map(|i| format!("2026-01-{:02} 记录 {i}", i % 28 + 1)).collect();
        let svg = back_svg(&page);
        assert!(svg.contains("记录 39"));
        let height: f32 = svg
            .split("height=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(height > CARD_H);
        let img = image::load_from_memory(&back_png(&page).unwrap()).unwrap();
        assert_eq!(img.height(), (height * PNG_SCALE) as u32);
    }

    #[test]
    fn xml_escaping_drops_what_xml_cannot_carry() {
        assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(esc("x\u{0}y\u{1b}z"), "x\u{FFFD}y\u{FFFD}z");
        let mut page = back();
        page.address = "]]><script>alert(1)</script>".into();
        assert!(!back_svg(&page).contains("<script>"));
    }

    #[test]
    fn the_font_is_complete_and_unambiguous() {
        let alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ:-./_";
        let mut seen = std::collections::HashSet::new();
        for c in alphabet.chars() {
            let g = glyph(c).unwrap();
            assert!(g.iter().all(|row| row & !0x1F == 0), "{c}");
            assert!(g.iter().any(|row| *row != 0), "{c}");
            assert!(seen.insert(g), "{c} looks like another glyph");
        }
        assert_eq!(glyph('a'), glyph('A'));
        assert_eq!(glyph('张'), None);
        let mut img = RgbImage::from_pixel(200, 20, Rgb([255, 255, 255]));
        draw_text(&mut img, 1, 1, 2, "A1:-./Z", Rgb([0, 0, 0]));
        assert_eq!(read_text(&img, 1, 1, 2, 7), "A1:-./Z");
    }
}
