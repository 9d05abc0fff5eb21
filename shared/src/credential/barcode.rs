//! The one-dimensional barcode of the licence serial: an ISO/IEC 7064 MOD 11-2 check character and Code 128 (ISO/IEC 15417).
//!
//! Code sets: B for text, C (two digits per symbol) for runs of digits of at
//! least four at the start or end of the data or six in between, the
//! thresholds from which C is never longer. A 20-digit serial with its check
//! character is thus 10 symbols in C, a switch, and the check character in B.

use std::fmt::Write as _;

/// Data longer than this is not a serial; refusing it keeps the symbol printable.
pub const MAX_DATA_LEN: usize = 80;
/// Light modules either side of the symbol (the standard's minimum of ten X).
pub const QUIET_ZONE: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BarcodeError {
    #[error("there is nothing to encode")]
    Empty,
    #[error("{0:?} cannot be encoded in Code 128 set B (printable ASCII only)")]
    UnsupportedCharacter(char),
    #[error("{0} characters is longer than the {MAX_DATA_LEN} a barcode may carry")]
    TooLong(usize),
    #[error("module width and height must be positive and finite")]
    Dimensions,
}

/// The serial with its check character appended (ISO/IEC 7064 MOD 11-2 over the digits, like resident identity numbers; 'X' for 10).
pub fn with_check_character(serial_digits: &str) -> Option<String> {
    let check = mod11_2_check(serial_digits)?;
    Some(format!("{serial_digits}{check}"))
}

/// Whether the last character of `value` is the MOD 11-2 check character of the digits before it.
pub fn check_character_valid(value: &str) -> bool {
    let Some(last) = value.chars().last() else {
        return false;
    };
    let digits = &value[..value.len() - last.len_utf8()];
    mod11_2_check(digits) == Some(last)
}

/// ISO/IEC 7064 MOD 11-2: weights 2^i mod 11 from the right (the check
/// character itself having weight 1), chosen so the weighted sum is 1 mod 11.
fn mod11_2_check(digits: &str) -> Option<char> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut sum = 0u32;
    let mut weight = 2u32;
    for b in digits.bytes().rev() {
        sum = (sum + u32::from(b - b'0') * weight) % 11;
        weight = weight * 2 % 11;
    }
    let check = (12 - sum) % 11;
    Some(match check {
        10 => 'X',
        n => char::from(b'0' + n as u8),
    })
}

/// Element widths (bar, space, bar, ...) of each symbol value 0..=105, and the stop (106).
const PATTERNS: [&str; 107] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213", //
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132", //
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211", //
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313", //
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331", //
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111", //
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214", //
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", //
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141", //
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141", //
    "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
];

const CODE_B: u8 = 100; // in set C: switch to B
const CODE_C: u8 = 99; // in set B: switch to C
const START_B: u8 = 104;
const START_C: u8 = 105;
const STOP: u8 = 106;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Set {
    B,
    C,
}

/// The symbol values from the start character through the checksum (no stop).
fn symbol_values(data: &str) -> Result<Vec<u8>, BarcodeError> {
    if data.is_empty() {
        return Err(BarcodeError::Empty);
    }
    if let Some(c) = data.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(BarcodeError::UnsupportedCharacter(c));
    }
    if data.len() > MAX_DATA_LEN {
        return Err(BarcodeError::TooLong(data.len()));
    }
    let bytes = data.as_bytes();
    let mut values = Vec::with_capacity(bytes.len() + 4);
    let mut set: Option<Set> = None;
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let at_edge = i == 0 || i + run == bytes.len();
        if run >= 4 && (at_edge || run >= 6) {
            match set {
                None => values.push(START_C),
                Some(Set::B) => values.push(CODE_C),
                Some(Set::C) => {}
            }
            set = Some(Set::C);
            for pair in bytes[i..i + run - run % 2].chunks(2) {
                values.push((pair[0] - b'0') * 10 + (pair[1] - b'0'));
            }
            i += run - run % 2;
        } else {
            match set {
                None => values.push(START_B),
                Some(Set::C) => values.push(CODE_B),
                Some(Set::B) => {}
            }
            set = Some(Set::B);
            values.push(bytes[i] - b' ');
            i += 1;
        }
    }
    let checksum = values
        .iter()
        .enumerate()
        .map(|(pos, &v)| u32::from(v) * (pos.max(1) as u32))
        .sum::<u32>()
        % 103;
    values.push(checksum as u8);
    Ok(values)
}

/// Code 128 modules (true = bar) including quiet zones, start, data, checksum, stop.
pub fn code128_modules(data: &str) -> Result<Vec<bool>, BarcodeError> {
    let mut values = symbol_values(data)?;
    values.push(STOP);
    let mut modules = vec![false; QUIET_ZONE];
    for value in values {
        for (n, width) in PATTERNS[usize::from(value)].bytes().enumerate() {
            let bar = n % 2 == 0;
            modules.extend(std::iter::repeat_n(bar, usize::from(width - b'0')));
        }
    }
    modules.extend(std::iter::repeat_n(false, QUIET_ZONE));
    Ok(modules)
}

/// The barcode as a standalone SVG document, one rect per bar, on white.
pub fn code128_svg(data: &str, module_width: f32, height: f32) -> Result<String, BarcodeError> {
    if !(module_width.is_finite() && module_width > 0.0 && height.is_finite() && height > 0.0) {
        return Err(BarcodeError::Dimensions);
    }
    let modules = code128_modules(data)?;
    let width = modules.len() as f32 * module_width;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" shape-rendering="crispEdges"><rect width="{width}" height="{height}" fill="#fff"/><g fill="#000">"##
    );
    for (start, len) in bar_runs(&modules) {
        let _ = write!(
            svg,
            r#"<rect x="{}" width="{}" height="{height}"/>"#,
            start as f32 * module_width,
            len as f32 * module_width
        );
    }
    svg.push_str("</g></svg>");
    Ok(svg)
}

/// (first module, width in modules) of every bar.
pub(crate) fn bar_runs(modules: &[bool]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < modules.len() {
        if modules[i] {
            let len = modules[i..].iter().take_while(|&&m| m).count();
            runs.push((i, len));
            i += len;
        } else {
            i += 1;
        }
    }
    runs
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Reads modules back to the data, as a scanner would: widths, then
    /// symbols by pattern, checksum verified, code sets followed.
    pub(crate) fn decode_modules(modules: &[bool]) -> Result<String, String> {
        let first = modules.iter().position(|&m| m).ok_or("no bars")?;
        let last = modules.iter().rposition(|&m| m).ok_or("no bars")?;
        if first < QUIET_ZONE || modules.len() - 1 - last < QUIET_ZONE {
            return Err("quiet zone too small".into());
        }
        let mut widths = Vec::new();
        let mut i = first;
        while i <= last {
            let len = modules[i..=last].iter().take_while(|&&m| m == modules[i]).count();
            widths.push(len);
            i += len;
        }
        if widths.len() < 19 || (widths.len() - 7) % 6 != 0 {
            return Err(format!("{} elements", widths.len()));
        }
        let pattern_of = |w: &[usize]| w.iter().map(|d| char::from(b'0' + *d as u8)).collect::<String>();
        if pattern_of(&widths[widths.len() - 7..]) != PATTERNS[106] {
            return Err("no stop".into());
        }
        let values = widths[..widths.len() - 7]
            .chunks(6)
            .map(|w| {
                PATTERNS[..106]
                    .iter()
                    .position(|p| *p == pattern_of(w))
                    .ok_or("unknown symbol")
            })
            .collect::<Result<Vec<usize>, _>>()?;
        let (check, body) = values.split_last().ok_or("empty")?;
        let sum: usize = body.iter().enumerate().map(|(p, v)| v * p.max(1)).sum();
        if sum % 103 != *check {
            return Err("checksum".into());
        }
        let mut set = match body[0] {
            104 => Set::B,
            105 => Set::C,
            v => return Err(format!("start {v}")),
        };
        let mut out = String::new();
        for &v in &body[1..] {
            match (set, v) {
                (Set::B, 99) => set = Set::C,
                (Set::C, 100) => set = Set::B,
                (Set::B, v) if v < 95 => out.push(char::from(v as u8 + b' ')),
                (Set::C, v) if v < 100 => out.push_str(&format!("{v:02}")),
                (_, v) => return Err(format!("unexpected value {v}")),
            }
        }
        Ok(out)
    }

    #[test]
    fn resident_identity_numbers_check() {
        assert_eq!(
            with_check_character("11010519900307451").as_deref(),
            Some("11010519900307451X")
        );
        assert!(check_character_valid("11010519900307451X"));
        assert!(check_character_valid("440106198505213821"));
        assert!(check_character_valid("440304198809302469"));
        assert!(!check_character_valid("440304198809302468"));
        assert!(!check_character_valid("11010519900307451x"));
        // ISO/IEC 7064's own MOD 11-2 example.
        assert_eq!(with_check_character("079").as_deref(), Some("079X"));
        assert_eq!(with_check_character("0794").as_deref(), Some("07940"));
    }

    #[test]
    fn check_character_refuses_non_digits() {
        assert_eq!(with_check_character(""), None);
        assert_eq!(with_check_character("12a4"), None);
        assert_eq!(with_check_character("１２"), None);
        assert!(!check_character_valid(""));
        assert!(!check_character_valid("X"));
        assert!(!check_character_valid("1X2"));
        assert!(!check_character_valid("12中"));
    }

    #[test]
    fn check_character_catches_every_single_digit_error_and_swap() {
        let good = with_check_character("11000026112500001234").unwrap();
        assert!(check_character_valid(&good));
        let bytes = good.as_bytes();
        for i in 0..bytes.len() - 1 {
            for d in b'0'..=b'9' {
                if d != bytes[i] {
                    let mut b = bytes.to_vec();
                    b[i] = d;
                    assert!(!check_character_valid(std::str::from_utf8(&b).unwrap()));
                }
            }
            if i + 2 < bytes.len() && bytes[i] != bytes[i + 1] {
                let mut b = bytes.to_vec();
                b.swap(i, i + 1);
                assert!(!check_character_valid(std::str::from_utf8(&b).unwrap()));
            }
        }
    }

    #[test]
    fn patterns_are_well_formed_and_distinct() {
        for (v, p) in PATTERNS.iter().enumerate() {
            let widths: Vec<u32> = p.bytes().map(|b| u32::from(b - b'0')).collect();
            let total: u32 = widths.iter().sum();
            let bars: u32 = widths.iter().step_by(2).sum();
            assert_eq!(total, if v == 106 { 13 } else { 11 }, "value {v}");
            assert_eq!(bars % 2, 0, "value {v}: bar modules are even");
            assert!(widths.iter().all(|w| (1..=4).contains(w)));
        }
        let mut sorted = PATTERNS.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 107);
    }

    #[test]
    fn known_symbol_values() {
        // Wikipedia's worked example "PJJ123C": start B, P J J 1 2 3 C, checksum 879 % 103 = 55.
        assert_eq!(
            symbol_values("PJJ123C").unwrap(),
            vec![104, 48, 42, 42, 17, 18, 19, 35, 55]
        );
        // Code set C for an even run of digits: 12 34 56, checksum (105+12+68+168) % 103 = 44.
        assert_eq!(symbol_values("123456").unwrap(), vec![105, 12, 34, 56, 44]);
        // An odd run of digits: pairs in C, the last digit and the 'X' in B.
        let v = symbol_values("11010519900307451X").unwrap();
        assert_eq!(&v[..9], &[105, 11, 1, 5, 19, 90, 3, 7, 45]);
        assert_eq!(&v[9..12], &[CODE_B, b'1' - b' ', b'X' - b' ']);
        assert_eq!(v.len(), 13);
    }

    #[test]
    fn known_modules_for_a_single_character() {
        // Start B 211214, 'A' (33) 111323, checksum (104 + 33) % 103 = 34 -> 131123, stop 2331112.
        let modules = code128_modules("A").unwrap();
        // Patterns are concatenated symbol by symbol, each starting with a bar.
        assert_eq!(modules.len(), 10 + 11 * 3 + 13 + 10);
        let mut manual = vec![false; 10];
        for p in ["211214", "111323", "131123", "2331112"] {
            for (i, w) in p.bytes().enumerate() {
                manual.extend(std::iter::repeat_n(i % 2 == 0, usize::from(w - b'0')));
            }
        }
        manual.extend([false; 10]);
        assert_eq!(modules, manual);
    }

    #[test]
    fn round_trips_through_the_decoder() {
        let serial = with_check_character("11000026112500001234").unwrap();
        for data in [
            serial.as_str(),
            "11010519900307451X",
            "A",
            "1",
            "12",
            "123",
            "1234",
            "12345",
            "X1234567Y",
            "AB123CD",
            "EDL-2026/11:25 ok~",
            " ",
            "0000000000000000000000000000000000000000000000000000000000000000000000000000000",
        ] {
            let modules = code128_modules(data).unwrap();
            assert_eq!(decode_modules(&modules).as_deref(), Ok(data), "{data:?}");
            assert!(!modules[..QUIET_ZONE].iter().any(|&m| m));
            assert!(!modules[modules.len() - QUIET_ZONE..].iter().any(|&m| m));
        }
    }

    #[test]
    fn set_c_makes_serials_shorter() {
        let serial = with_check_character("11000026112500001234").unwrap();
        let modules = code128_modules(&serial).unwrap();
        // start C + 10 pairs + code B + 'check' + checksum = 14 symbols, and the stop.
        assert_eq!(modules.len(), 2 * QUIET_ZONE + 14 * 11 + 13);
    }

    #[test]
    fn refuses_what_it_cannot_encode() {
        assert_eq!(code128_modules(""), Err(BarcodeError::Empty));
        assert_eq!(code128_modules("张伟"), Err(BarcodeError::UnsupportedCharacter('张')));
        assert_eq!(code128_modules("a\tb"), Err(BarcodeError::UnsupportedCharacter('\t')));
        assert_eq!(code128_modules(&"1".repeat(81)), Err(BarcodeError::TooLong(81)));
        assert_eq!(code128_svg("1", 0.0, 10.0), Err(BarcodeError::Dimensions));
        assert_eq!(code128_svg("1", 1.0, f32::NAN), Err(BarcodeError::Dimensions));
    }

    #[test]
    fn svg_draws_every_bar() {
        let modules = code128_modules("PJJ123C").unwrap();
        let svg = code128_svg("PJJ123C", 2.0, 50.0).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect x=").count(), bar_runs(&modules).len());
        assert!(svg.contains(&format!("width=\"{}\"", modules.len() * 2)));
        // Read the SVG back: rect x/width in module units rebuild the modules.
        let mut rebuilt = vec![false; modules.len()];
        for rect in svg.split("<rect x=\"").skip(1) {
            let x: f32 = rect.split('"').next().unwrap().parse().unwrap();
            let w: f32 = rect
                .split("width=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            rebuilt[(x / 2.0) as usize..((x + w) / 2.0) as usize].fill(true);
        }
        assert_eq!(decode_modules(&rebuilt).as_deref(), Ok("PJJ123C"));
    }
}
