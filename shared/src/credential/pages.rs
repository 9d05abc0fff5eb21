//! The front and back pages of the electronic licence (R6), as SVG and as PNG.
//!
//! Longer than 600 lines on purpose: one layout serves both formats and both pages, so every position,
//! font size and module grid lives in this file, where a change to one page shows against the other.
//!
//! Both come from one layout (positions in SVG units on an ID-1 sized 856x540 card): the PNG
//! is the SVG rendered by resvg with an embedded subset of Noto Sans CJK SC (GB 2312's hanzi,
//! its punctuation and full-width forms, ASCII, and every character the repository's pages and
//! data use; see `shared/fonts/`), so the two formats read alike, Chinese included. No system
//! font is consulted: Lambda has none, and a page must look the same wherever it is drawn. The
//! QR code's and the barcode's modules lie on whole PNG pixels so that both scan.
//!
//! The SVG is written wherever the pages are shown. The PNG is drawn behind the [`PageRenderer`] port: in this
//! process with the `render` feature (the pages function, the local server, the tests), or by the pages function
//! when the licence function asks it (`adapters::lambda`), so that the licence function links neither the
//! renderer nor the font.

use crate::credential::barcode::{self, BarcodeError};
use async_trait::async_trait;
use base64::Engine as _;
#[cfg(feature = "render")]
use image::imageops::FilterType;
use qrcode::{EcLevel, QrCode};
#[cfg(feature = "render")]
use resvg::{tiny_skia, usvg};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
#[cfg(feature = "render")]
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "camelCase")]
pub enum PageError {
    #[error("the portrait is not an image that can be read: {0}")]
    Portrait(String),
    #[error("the show code does not fit in a QR code on the page: {0}")]
    ShowCode(String),
    #[error("the barcode cannot be drawn: {0}")]
    Barcode(#[from] BarcodeError),
    #[error("the PNG could not be written: {0}")]
    Encode(String),
    #[error("the page could not be rendered: {0}")]
    Render(String),
    #[error("the page request cannot be read: {0}")]
    Request(String),
    #[error("the page renderer cannot be reached: {0}")]
    Unreachable(String),
}

/// A page to draw as PNG: what the licence function sends the pages function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "page", rename_all = "camelCase")]
pub enum PngRequest {
    Front(Box<FrontPage>),
    Back(BackPage),
}

/// The pages function's answer: the PNG (base64), or why the page could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PngAnswer {
    Png(String),
    Refused(PageError),
}

impl PngAnswer {
    pub fn into_png(self) -> Result<Vec<u8>, PageError> {
        match self {
            PngAnswer::Png(png) => base64::engine::general_purpose::STANDARD
                .decode(png)
                .map_err(|e| PageError::Unreachable(format!("the answer's PNG is not base64: {e}"))),
            PngAnswer::Refused(error) => Err(error),
        }
    }
}

/// Draws a page as PNG: in this process ([`InProcess`]), or in the pages function (`adapters::lambda`).
#[async_trait]
pub trait PageRenderer: Send + Sync {
    async fn png(&self, page: &PngRequest) -> Result<Vec<u8>, PageError>;
}

/// The page renderer of this process.
#[cfg(feature = "render")]
pub struct InProcess;

#[cfg(feature = "render")]
#[async_trait]
impl PageRenderer for InProcess {
    async fn png(&self, page: &PngRequest) -> Result<Vec<u8>, PageError> {
        png_of(page)
    }
}

/// The page as PNG, drawn here.
#[cfg(feature = "render")]
pub fn png_of(page: &PngRequest) -> Result<Vec<u8>, PageError> {
    match page {
        PngRequest::Front(page) => front_png(page),
        PngRequest::Back(page) => back_png(page),
    }
}

/// What the pages function answers to `request`, a [`PngRequest`] as JSON.
#[cfg(feature = "render")]
pub fn answer(request: serde_json::Value) -> PngAnswer {
    let drawn = serde_json::from_value::<PngRequest>(request)
        .map_err(|e| PageError::Request(e.to_string()))
        .and_then(|page| png_of(&page));
    match drawn {
        Ok(png) => PngAnswer::Png(base64::engine::general_purpose::STANDARD.encode(png)),
        Err(error) => PngAnswer::Refused(error),
    }
}

/// The portrait's bytes as base64 in JSON.
mod portrait_base64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => serializer.serialize_some(&STANDARD.encode(bytes)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| STANDARD.decode(text).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// What the front page shows; all text as it should read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
    #[serde(default, with = "portrait_base64")]
    pub portrait_jpeg: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
#[cfg(feature = "render")]
const MIN_PX_PER_MODULE: usize = 4;
/// Decoding limits for the portrait: an ID photo is far below these.
#[cfg(feature = "render")]
const PORTRAIT_MAX_SIDE: u32 = 6000;
#[cfg(feature = "render")]
const PORTRAIT_MAX_ALLOC: u64 = 256 << 20;
const FONT_STACK: &str = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif";
/// The font the PNG is drawn with (SIL OFL 1.1, see `shared/fonts/OFL.txt`), regenerated by
/// `scripts/make_page_font.sh`; its family is the first of [`FONT_STACK`].
#[cfg(feature = "render")]
static PAGE_FONT: &[u8] = include_bytes!("../../fonts/NotoSansCJKsc-Regular-subset.otf");
#[cfg(feature = "render")]
const PAGE_FONT_FAMILY: &str = "Noto Sans CJK SC";
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
    text: String,
}

impl Text {
    fn new(x: f32, y: f32, size: f32, text: impl Into<String>) -> Self {
        Text {
            x,
            y,
            size,
            bold: false,
            anchor: Anchor::Start,
            fill: "#111",
            text: text.into(),
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

/// A bilingual label over a value.
fn field(texts: &mut Vec<Text>, x: f32, y: f32, zh: &str, en: &str, value: &str) {
    texts.push(Text::new(x, y, 11.0, format!("{zh} {en}")).fill("#5b6770"));
    texts.push(Text::new(x, y + 21.0, 17.0, value).bold());
}

fn status_of(status: &str) -> (&'static str, &'static str, &'static str) {
    match status.trim().to_ascii_lowercase().as_str() {
        "green" => ("#1b8a3c", "绿", "GREEN"),
        "red" => ("#c62828", "红", "RED"),
        _ => ("#757575", "未知", "UNKNOWN"),
    }
}

struct FrontLayout {
    texts: Vec<Text>,
    band: Rect,
    band_fill: &'static str,
    portrait: Rect,
    qr: Rect,
    barcode: Rect,
}

fn front_layout(page: &FrontPage) -> FrontLayout {
    let mut t = Vec::new();
    t.push(Text::new(CARD_W / 2.0, 40.0, 24.0, TITLE).bold().anchor(Anchor::Middle));
    t.push(
        Text::new(
            CARD_W / 2.0,
            62.0,
            12.0,
            "Motor Vehicle Driving Licence of the People's Republic of China · Electronic Driving Licence",
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
    let (band_fill, zh, en) = status_of(&page.status);
    t.push(
        Text::new(CARD_W / 2.0, 95.0, 16.0, format!("状态 Status: {zh} {en}"))
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
            Text::new(qx, qr.y + qr.h / 2.0, 14.0, "出示码不可用 No show code")
                .anchor(Anchor::Middle)
                .fill("#5b6770"),
        );
    }
    t.push(
        Text::new(qx, qy, 11.0, "出示码 Show code · 生成时间 Generated")
            .anchor(Anchor::Middle)
            .fill("#5b6770"),
    );
    t.push(Text::new(qx, qy + 20.0, 15.0, &page.generated_at).anchor(Anchor::Middle));

    let barcode = Rect {
        x: 32.0,
        y: 428.0,
        w: 520.0,
        h: 52.0,
    };
    if !page.barcode_data.is_empty() {
        t.push(Text::new(barcode.x + barcode.w / 2.0, 506.0, 15.0, &page.barcode_data).anchor(Anchor::Middle));
    }
    FrontLayout {
        texts: t,
        band,
        band_fill,
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
        Text::new(CARD_W / 2.0, 40.0, 24.0, format!("{TITLE} 副页"))
            .bold()
            .anchor(Anchor::Middle),
    );
    t.push(
        Text::new(CARD_W / 2.0, 62.0, 12.0, "Supplementary page")
            .anchor(Anchor::Middle)
            .fill("#5b6770"),
    );
    let x = 32.0;
    let width = CARD_W - 2.0 * x;
    let mut y = 100.0;
    let section = |t: &mut Vec<Text>, y: &mut f32, zh: &str, en: &str, lines: Vec<String>| {
        t.push(Text::new(x, *y, 11.0, format!("{zh} {en}")).fill("#5b6770"));
        *y += 21.0;
        for line in lines {
            t.push(Text::new(x, *y, 16.0, line));
            *y += 22.0;
        }
        *y += 12.0;
    };
    let none = || vec!["无 None".to_string()];
    section(&mut t, &mut y, "住址", "Address", wrap(&page.address, width, 16.0));
    section(
        &mut t,
        &mut y,
        "发证机关",
        "Issuing authority",
        wrap(&page.issuing_authority, width, 16.0),
    );
    section(&mut t, &mut y, "累积记分", "Points", vec![page.points.to_string()]);
    let states = if page.states.is_empty() {
        none()
    } else {
        wrap(&page.states.join("、"), width, 16.0)
    };
    section(&mut t, &mut y, "状态", "States", states);
    let rules = page
        .class_rules
        .iter()
        .flat_map(|(code, rule)| wrap(&format!("{code}  {rule}"), width, 16.0))
        .collect();
    section(&mut t, &mut y, "准驾车型代号规定", "Class rules", rules);
    let record = if page.record.is_empty() {
        none()
    } else {
        page.record.iter().flat_map(|line| wrap(line, width, 16.0)).collect()
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
    let portrait = page
        .portrait_jpeg
        .as_deref()
        .and_then(|bytes| image_mime(bytes).map(|mime| (mime, bytes)));
    front_svg_with(page, portrait)
}

/// The front page's SVG with `portrait` (its MIME type and bytes) in the portrait's place.
fn front_svg_with(page: &FrontPage, portrait: Option<(&str, &[u8])>) -> String {
    let layout = front_layout(page);
    let mut s = svg_open(CARD_H, &format!("电子驾驶证 {}", page.name));
    let b = layout.band;
    let _ = write!(
        s,
        r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>"#,
        b.x, b.y, b.w, b.h, layout.band_fill
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
    match portrait {
        Some((mime, bytes)) => {
            let data = base64::engine::general_purpose::STANDARD.encode(bytes);
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
        let modules = code.width() + 2 * QR_QUIET;
        let grid = Grid::fit(layout.qr, modules, true);
        let _ = write!(
            s,
            r##"<g id="show-code-qr" transform="translate({},{}) scale({})" shape-rendering="crispEdges"><rect width="{modules}" height="{modules}" fill="#fff"/><path fill="#000" d=""##,
            grid.x, grid.y, grid.unit
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

    if let Ok(modules) = barcode::code128_modules(&page.barcode_data) {
        let r = layout.barcode;
        let grid = Grid::fit(r, modules.len(), false);
        let _ = write!(s, r##"<g id="barcode" fill="#000" shape-rendering="crispEdges">"##);
        for (start, len) in barcode::bar_runs(&modules) {
            let _ = write!(
                s,
                r#"<rect x="{}" y="{}" width="{}" height="{}"/>"#,
                grid.x + start as f32 * grid.unit,
                r.y,
                len as f32 * grid.unit,
                r.h
            );
        }
        s.push_str("</g>");
    }
    svg_texts(&mut s, &layout.texts);
    s.push_str("</svg>");
    s
}

/// Where `modules` equal modules go in `area`: each as many whole PNG pixels wide as fit
/// (so that the PNG's modules are all alike and scan), centred; `square` centres vertically too.
/// When not even one pixel a module fits, the modules share the area's width exactly.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Grid {
    x: f32,
    y: f32,
    /// A module's side in SVG units.
    unit: f32,
    /// A module's side in PNG pixels (0 when it is not a whole number).
    px: u32,
}

impl Grid {
    fn fit(area: Rect, modules: usize, square: bool) -> Grid {
        let (ax, ay, aw, ah) = px_rect(area);
        let modules_u32 = u32::try_from(modules.max(1)).unwrap_or(u32::MAX);
        let px = aw / modules_u32;
        if px == 0 {
            return Grid {
                x: area.x,
                y: area.y,
                unit: area.w / modules.max(1) as f32,
                px: 0,
            };
        }
        let side = px * modules_u32;
        let x = ax + (aw - side) / 2;
        let y = if square { ay + ah.saturating_sub(side) / 2 } else { ay };
        Grid {
            x: x as f32 / PNG_SCALE,
            y: y as f32 / PNG_SCALE,
            unit: px as f32 / PNG_SCALE,
            px,
        }
    }
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
            esc(&t.text)
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

/// Renders the front page as PNG (1712x1080): the SVG of [`front_svg`], with the portrait
/// decoded under limits and scaled to its box first (so that the renderer only ever sees an
/// image we made), the QR code at least four pixels a module with a four-module quiet zone.
#[cfg(feature = "render")]
pub fn front_png(page: &FrontPage) -> Result<Vec<u8>, PageError> {
    let layout = front_layout(page);
    if !page.show_code.is_empty() {
        let code = QrCode::with_error_correction_level(page.show_code.as_bytes(), EcLevel::M)
            .map_err(|e| PageError::ShowCode(e.to_string()))?;
        let modules = code.width() + 2 * QR_QUIET;
        if (Grid::fit(layout.qr, modules, true).px as usize) < MIN_PX_PER_MODULE {
            return Err(PageError::ShowCode(format!(
                "{modules} modules do not fit {} px at {MIN_PX_PER_MODULE} px each",
                px_rect(layout.qr).2
            )));
        }
    }
    if !page.barcode_data.is_empty() {
        barcode::code128_modules(&page.barcode_data)?;
    }
    let portrait = match &page.portrait_jpeg {
        Some(bytes) => {
            let (_, _, w, h) = px_rect(layout.portrait);
            let fitted = decode_portrait(bytes)?.resize_to_fill(w, h, FilterType::Triangle);
            let mut png = std::io::Cursor::new(Vec::new());
            fitted
                .write_to(&mut png, image::ImageFormat::Png)
                .map_err(|e| PageError::Portrait(e.to_string()))?;
            Some(png.into_inner())
        }
        None => None,
    };
    render_png(&front_svg_with(page, portrait.as_deref().map(|png| ("image/png", png))))
}

/// Renders the back page as PNG (1712 wide, taller when the lists are long).
#[cfg(feature = "render")]
pub fn back_png(page: &BackPage) -> Result<Vec<u8>, PageError> {
    render_png(&back_svg(page))
}

#[cfg(feature = "render")]
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

/// The renderer's options, with the embedded font as the only one: built once per process.
#[cfg(feature = "render")]
fn render_options() -> &'static usvg::Options<'static> {
    static OPTIONS: OnceLock<usvg::Options<'static>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut fonts = usvg::fontdb::Database::new();
        fonts.load_font_source(usvg::fontdb::Source::Binary(Arc::new(PAGE_FONT)));
        fonts.set_sans_serif_family(PAGE_FONT_FAMILY);
        usvg::Options {
            font_family: PAGE_FONT_FAMILY.into(),
            languages: vec!["zh-CN".into(), "en".into()],
            fontdb: Arc::new(fonts),
            ..usvg::Options::default()
        }
    })
}

/// Renders an SVG of ours at [`PNG_SCALE`] onto white, as an RGB PNG.
#[cfg(feature = "render")]
fn render_png(svg: &str) -> Result<Vec<u8>, PageError> {
    let tree = usvg::Tree::from_str(svg, render_options()).map_err(|e| PageError::Render(e.to_string()))?;
    let size = tree.size();
    let (w, h) = (
        (size.width() * PNG_SCALE).round() as u32,
        (size.height() * PNG_SCALE).round() as u32,
    );
    let mut pixmap = tiny_skia::Pixmap::new(w, h).ok_or_else(|| PageError::Render(format!("{w}x{h} pixels")))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(PNG_SCALE, PNG_SCALE),
        &mut pixmap.as_mut(),
    );
    // Opaque throughout (white underneath), so the premultiplied pixels are the plain ones.
    let rgba = image::RgbaImage::from_raw(w, h, pixmap.take())
        .ok_or_else(|| PageError::Render("the pixel buffer does not match its size".into()))?;
    let rgb = image::DynamicImage::ImageRgba8(rgba).to_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    rgb.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| PageError::Encode(e.to_string()))?;
    Ok(out.into_inner())
}

fn px_rect(r: Rect) -> (u32, u32, u32, u32) {
    let px = |v: f32| (v * PNG_SCALE).round().max(0.0) as u32;
    (px(r.x), px(r.y), px(r.w), px(r.h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::showcode;
    use image::{Rgb, RgbImage};

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
        let modules = qr.width() as u32 + 8;
        let grid = Grid::fit(front_layout(&FrontPage::default()).qr, modules as usize, true);
        let per = grid.px;
        assert!(per >= 4, "{per} px a module");
        let side = per * modules;
        let (ox, oy) = ((grid.x * PNG_SCALE) as u32, (grid.y * PNG_SCALE) as u32);
        // The quiet zone is white all round.
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
        // The finder pattern's outer ring is black to the pixel, the ring inside it white:
        // modules lie on whole pixels.
        let (x0, y0) = (ox + 4 * per, oy + 4 * per);
        for i in 0..7 * per {
            assert_eq!(img.get_pixel(x0 + i, y0).0, [0, 0, 0], "top {i}");
            assert_eq!(img.get_pixel(x0, y0 + i).0, [0, 0, 0], "left {i}");
        }
        for i in 0..5 * per {
            assert_eq!(img.get_pixel(x0 + per + i, y0 + per).0, [255, 255, 255], "inner {i}");
        }
    }

    /// The pixels of a text's line box (from a size above the baseline to a third below it).
    fn text_box(img: &image::RgbImage, t: &Text, width: f32) -> Vec<[u8; 3]> {
        let x0 = match t.anchor {
            Anchor::Start => t.x,
            Anchor::Middle => t.x - width / 2.0,
        };
        let (x0, x1) = ((x0 * PNG_SCALE) as u32, ((x0 + width) * PNG_SCALE) as u32);
        let (y0, y1) = (
            ((t.y - t.size) * PNG_SCALE) as u32,
            ((t.y + t.size / 3.0) * PNG_SCALE) as u32,
        );
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .map(|(x, y)| img.get_pixel(x, y).0)
            .collect()
    }

    /// How many of the pixels are dark.
    fn ink(pixels: &[[u8; 3]]) -> usize {
        pixels.iter().filter(|p| p.iter().all(|&c| c < 128)).count()
    }

    fn png_of(page: &FrontPage) -> image::RgbImage {
        image::load_from_memory(&front_png(page).unwrap()).unwrap().to_rgb8()
    }

    #[test]
    fn the_png_draws_the_chinese_fields_as_the_svg_does() {
        let page = front(real_show_code(), None);
        let img = png_of(&page);
        assert_eq!(img.dimensions(), (1712, 1080));
        let layout = front_layout(&page);
        let find = |text: &str| layout.texts.iter().find(|t| t.text == text).unwrap();
        // The name, in Chinese, has ink where the SVG puts it, and another name other ink.
        let name = find(&page.name);
        let drawn = text_box(&img, name, 170.0);
        assert!(ink(&drawn) > 200, "{} dark pixels", ink(&drawn));
        let mut other = page.clone();
        other.name = "王芳".into();
        assert_ne!(text_box(&png_of(&other), name, 170.0), drawn);
        // Chinese alone, without a Latin letter beside it, is drawn too.
        other.sex = "男".into();
        assert!(ink(&text_box(&png_of(&other), find(&page.sex), 40.0)) > 30);
        other.name.clear();
        assert_eq!(ink(&text_box(&png_of(&other), name, 170.0)), 0);
        // Labels in both languages, and the title.
        assert!(ink(&text_box(&img, find("姓名 Name"), 60.0)) > 0);
        assert!(ink(&text_box(&img, find(TITLE), 500.0)) > 1000);
    }

    #[test]
    fn the_back_png_carries_the_address() {
        let page = back();
        let img = image::load_from_memory(&back_png(&page).unwrap()).unwrap().to_rgb8();
        let layout = back_layout(&page);
        let address = layout
            .texts
            .iter()
            .find(|t| t.text.starts_with("北京市东城区"))
            .unwrap();
        let drawn = text_box(&img, address, 400.0);
        assert!(ink(&drawn) > 500, "{} dark pixels", ink(&drawn));
        let mut moved = page.clone();
        moved.address = "广东省深圳市福田区深南大道1号".into();
        let other = image::load_from_memory(&back_png(&moved).unwrap()).unwrap().to_rgb8();
        assert_ne!(text_box(&other, address, 400.0), drawn);
    }

    /// Every character the product itself writes on a page (labels, the sample register's
    /// names, addresses and authorities, the shipped rollout and truck data) has a glyph in
    /// the embedded font; so do GB 2312's first and last hanzi, and the font holds GB 2312's
    /// 6,763 hanzi beside ASCII and punctuation.
    #[test]
    fn the_embedded_font_covers_what_the_pages_carry() {
        use skrifa::MetadataProvider;
        let font = skrifa::FontRef::new(PAGE_FONT).unwrap();
        let charmap = font.charmap();
        assert!(font
            .localized_strings(skrifa::string::StringId::FAMILY_NAME)
            .any(|name| name.to_string() == PAGE_FONT_FAMILY));
        let mut text = String::new();
        for licence in crate::sample::generate(10_000, 2026) {
            text.push_str(&licence.name);
            text.push_str(&licence.address);
            text.push_str(&licence.issuing_authority.name);
        }
        text.push_str(&front_svg(&front(String::new(), None)));
        text.push_str(&back_svg(&back()));
        for data in ["truck-cities.json", "rollout.json"] {
            let path = format!("{}/data/{data}", env!("CARGO_MANIFEST_DIR"));
            text.push_str(&std::fs::read_to_string(path).unwrap());
        }
        let missing: std::collections::BTreeSet<char> = text
            .chars()
            .filter(|c| !c.is_control() && charmap.map(*c).is_none())
            .collect();
        assert!(missing.is_empty(), "no glyph for {missing:?}");
        assert!(charmap.map('啊').is_some() && charmap.map('齄').is_some());
        let mapped = charmap.mappings().count();
        assert!((6763 + 94..8000).contains(&mapped), "{mapped} characters");
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
}
