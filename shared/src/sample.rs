//! A realistic, deterministic sample register: every class and state, Chinese names and addresses.

use crate::applications::photo::PhotoRules;
use crate::applications::portrait;
use crate::applications::ports::{PhotoStore, PhotoStoreError};
use crate::register::licence::{
    register_photo_key, resident_id_check_char, IssuingAuthority, Licence, LicenceState, Sex, VehicleClass,
};
use crate::register::rollout::{City, Plan};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{Days, NaiveDate};
use image::{Rgb, RgbImage};
use std::sync::OnceLock;

/// How many synthetic portraits the generated (non-showcase) holders with a photo on file share.
const SHARED_PORTRAITS: usize = 8;

/// One of the sample register's photos on file: the drawing as the register would hold it (a PNG) and the
/// portrait the import makes of it.
pub struct SamplePhoto {
    pub image: Vec<u8>,
    pub portrait: portrait::Portrait,
}

/// The sample register's photos on file: one for each showcase holder with a photo on file (张伟, 王芳, 刘洋,
/// 陈静), then the ones the generated holders share. Drawn, not photographed: no real face is in the sample.
pub fn sample_photos() -> &'static [SamplePhoto] {
    static PHOTOS: OnceLock<Vec<SamplePhoto>> = OnceLock::new();
    PHOTOS.get_or_init(|| {
        (0..4 + SHARED_PORTRAITS as u32)
            .filter_map(|seed| {
                let mut image = Vec::new();
                synthetic_person(seed)
                    .write_to(&mut std::io::Cursor::new(&mut image), image::ImageFormat::Png)
                    .ok()?;
                let portrait = portrait::normalise(&image, &PhotoRules::default()).ok()?;
                Some(SamplePhoto { image, portrait })
            })
            .collect()
    })
}

/// Puts the sample register's portraits into `store`, where the sample licences' `photoSha256` point (what
/// importing [`to_json_lines`] through `POST /admin/licences` does too).
pub async fn seed_photos(store: &dyn PhotoStore) -> Result<(), PhotoStoreError> {
    for photo in sample_photos() {
        store
            .put_portrait(&register_photo_key(&photo.portrait.sha256), &photo.portrait.jpeg)
            .await?;
    }
    Ok(())
}

fn sample_photo(index: usize) -> Option<String> {
    sample_photos().get(index).map(|p| p.portrait.sha256.clone())
}

/// A drawn head and shoulders on a near-white background, its colours and proportions chosen by `seed`.
fn synthetic_person(seed: u32) -> RgbImage {
    let mut rng = Rng(u64::from(seed) * 7919 + 17);
    let skins = [[224, 187, 160], [198, 150, 118], [176, 128, 96], [236, 200, 176]];
    let hairs = [[30, 24, 20], [60, 42, 30], [20, 20, 24], [90, 80, 76]];
    let clothes = [[35, 35, 50], [40, 70, 110], [90, 30, 40], [60, 60, 60], [25, 80, 60]];
    let (skin, hair, cloth) = (*rng.pick(&skins), *rng.pick(&hairs), *rng.pick(&clothes));
    let (w, h) = (360.0f32, 480.0f32);
    let (cx, cy) = (w * 0.5, h * (0.40 + rng.below(5) as f32 * 0.005));
    let (rx, ry) = (w * (0.17 + rng.below(4) as f32 * 0.01), h * 0.19);
    RgbImage::from_fn(360, 480, |x, y| {
        let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
        let (dx, dy) = ((px - cx) / rx, (py - cy) / ry);
        let in_head = dx * dx + dy * dy <= 1.0;
        let in_hair = in_head && py < cy - ry * 0.45;
        let in_eye = ((px - (cx - rx * 0.4)).powi(2) + (py - cy + ry * 0.1).powi(2)).sqrt() < 6.0
            || ((px - (cx + rx * 0.4)).powi(2) + (py - cy + ry * 0.1).powi(2)).sqrt() < 6.0;
        let in_mouth = (px - cx).abs() < rx * 0.3 && (py - (cy + ry * 0.5)).abs() < 3.0;
        let in_neck = py >= cy + ry * 0.8 && py < h * 0.72 && (px - cx).abs() <= w * 0.07;
        let colour = if in_hair || in_eye {
            hair
        } else if in_mouth {
            [150, 70, 70]
        } else if in_head || in_neck {
            skin
        } else if py >= h * 0.70 && (px - cx).abs() <= w * (0.22 + 0.22 * (py - h * 0.70) / (h * 0.30)) {
            cloth
        } else {
            [246, 246, 246]
        };
        Rgb(colour)
    })
}

/// The well-known records the README's walkthrough and the events use.
/// They come first in every generated set.
pub fn showcase_licences() -> Vec<Licence> {
    let plan = Plan::default_plan();
    let authority = |code: &str| authority_for(plan.cities.iter().find(|c| c.code == code), code);
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
    let base = |number: &str, name: &str, sex: Sex, birth: &str, address: &str, city: &str| Licence {
        number: number.into(),
        holder_id: number.into(),
        name: name.into(),
        sex,
        nationality: "CHN".into(),
        birth_date: d(birth),
        address: address.into(),
        first_issue_date: d("2012-06-18"),
        classes: vec![VehicleClass::C1],
        valid_from: d("2022-06-18"),
        valid_to: d("2032-06-18"),
        issuing_authority: authority(city),
        archive_number: format!("{}{}", &city[..4], &number[10..18].replace('X', "0")),
        points: 0,
        states: Vec::new(),
        photo_on_file: true,
        photo_sha256: None,
        photo_image: None,
        version: 0,
    };
    let with_photo = |licence: Licence, index: usize| Licence {
        photo_sha256: sample_photo(index),
        ..licence
    };
    vec![
        // Eligible, Beijing (first batch), compliant photo on file (R3).
        with_photo(
            base(
                "11010519900307451X",
                "张伟",
                Sex::Male,
                "1990-03-07",
                "北京市朝阳区建国路88号3号楼1单元502室",
                "110000",
            ),
            0,
        ),
        // Eligible, Shanghai, no photo on file: a new photo is needed (R4).
        Licence {
            photo_on_file: false,
            classes: vec![VehicleClass::C1, VehicleClass::D],
            ..base(
                "310104199208152623",
                "李娜",
                Sex::Female,
                "1992-08-15",
                "上海市徐汇区漕溪北路201弄6号1203室",
                "310000",
            )
        },
        // Detained and overdue for the medical examination: refused with both reasons (R1).
        Licence {
            photo_sha256: sample_photo(1),
            states: vec![LicenceState::Detained, LicenceState::MedicalOverdue],
            classes: vec![VehicleClass::A2],
            points: 9,
            ..base(
                "440106198505213821",
                "王芳",
                Sex::Female,
                "1985-05-21",
                "广东省广州市天河区天河路385号",
                "440100",
            )
        },
        // Eligible, but 湛江 is in wave 2c, not switched on yet (R2).
        with_photo(
            base(
                "440811199501121333",
                "刘洋",
                Sex::Male,
                "1995-01-12",
                "广东省湛江市赤坎区人民大道北36号",
                "440800",
            ),
            2,
        ),
        // Eligible, Shenzhen: the counter walkthrough (R12).
        with_photo(
            base(
                "440304198809302469",
                "陈静",
                Sex::Female,
                "1988-09-30",
                "广东省深圳市福田区深南大道6008号",
                "440300",
            ),
            3,
        ),
    ]
}

fn authority_for(city: Option<&City>, code: &str) -> IssuingAuthority {
    let name = match city {
        Some(c) if c.province.is_empty() => format!("{}公安局公安交通管理局车辆管理所", c.name),
        Some(c) => format!("{}{}公安局交通警察支队车辆管理所", c.province, c.name),
        None => "公安局交通警察支队车辆管理所".to_string(),
    };
    IssuingAuthority {
        code: code.into(),
        name,
    }
}

/// SplitMix64: small, fast and stable across releases, so a seed always
/// yields the same register (the README and tests rely on that).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "萧", "田", "董", "欧阳",
];
const GIVEN_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "鹏", "浩", "建国", "志强", "俊杰",
    "子轩", "宇航", "文博", "晨阳", "海涛", "国华",
];
const GIVEN_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀英", "婷", "雪", "慧", "颖", "佳怡", "欣怡", "梓涵", "诗涵",
    "雨桐", "晓燕", "丽华", "玉兰", "春梅",
];
const STREETS: &[&str] = &[
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平路",
    "新华路",
    "文化路",
    "胜利路",
    "长江路",
    "黄河路",
    "青年路",
    "友谊路",
    "朝阳路",
    "光明街",
    "幸福路",
    "学府路",
    "滨江大道",
    "东风路",
    "振兴路",
    "迎宾大道",
];
const DISTRICT_SUFFIXES: &[&str] = &["城区", "新区", "高新区", "经开区", "东区", "西区", "南区", "北区"];

/// The class sets licences commonly carry; each class appears in some.
const CLASS_SETS: &[&[VehicleClass]] = {
    use VehicleClass::*;
    &[
        &[C1],
        &[C2],
        &[C1, D],
        &[C1, E],
        &[A1, A2, C1],
        &[A2, C1],
        &[A3, C1],
        &[B1, C1],
        &[B2, C1],
        &[C3],
        &[C4],
        &[C5],
        &[D],
        &[E],
        &[F],
        &[M],
        &[A1, N],
        &[A1, P],
    ]
};

/// The sample fleet (a transport company's credit code), which the local
/// server's default fleet manager acts for.
pub const FLEET: &str = "91110105MA01TRUCK1";
/// Another company's fleet, in Shanghai.
pub const OTHER_FLEET: &str = "91310115MA02TRUCK2";

/// The sample vehicle register: 张伟's own truck, `FLEET`'s trucks, another
/// fleet's, a truck no city lets in (hazardous goods), and 李娜's truck below
/// every city's emission minimum.
pub fn showcase_vehicles() -> Vec<crate::truck::vehicle::Vehicle> {
    use crate::truck::vehicle::{EmissionStandard as E, Vehicle, VehicleType as T};
    let vehicle = |plate: &str, vehicle_type, emission, owner: &str, fleet: Option<&str>| Vehicle {
        plate: plate.into(),
        vehicle_type,
        emission,
        owner_id: owner.into(),
        fleet_id: fleet.map(str::to_string),
    };
    vec![
        vehicle("京A12345", T::LightTruck, E::China6a, "11010519900307451X", None),
        vehicle("京B20001", T::MediumTruck, E::China6b, FLEET, Some(FLEET)),
        vehicle("京B20002", T::HeavyTruck, E::China5, FLEET, Some(FLEET)),
        vehicle("京B2000D", T::LightTruck, E::NewEnergy, FLEET, Some(FLEET)),
        vehicle("沪C30001", T::MediumTruck, E::China6a, OTHER_FLEET, Some(OTHER_FLEET)),
        vehicle("京A66666", T::HazardousGoods, E::China6b, "11010519900307451X", None),
        vehicle("京A44444", T::LightTruck, E::China4, "310104199208152623", None),
    ]
}

/// The reference date the sample is built around, so a seed gives the same register every day.
pub fn reference_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default()
}

/// `count` licences: the showcase records first, then generated ones, covering
/// every class set, every state flag, licences near and past the end of their
/// validity, and every city in the rollout plan.
pub fn generate(count: usize, seed: u64) -> Vec<Licence> {
    let plan = Plan::default_plan();
    let mut out: Vec<Licence> = showcase_licences().into_iter().take(count).collect();
    let mut rng = Rng(seed);
    let mut seen: std::collections::HashSet<String> = out.iter().map(|l| l.number.clone()).collect();
    let today = reference_date();
    let mut index = 0usize;
    while out.len() < count {
        index += 1;
        let city = &plan.cities[index % plan.cities.len().max(1)];
        let sex = if rng.below(2) == 0 { Sex::Male } else { Sex::Female };
        let birth = NaiveDate::from_ymd_opt(
            1950 + rng.below(55) as i32,
            1 + rng.below(12) as u32,
            1 + rng.below(28) as u32,
        )
        .unwrap_or_default();
        let region = format!("{}{:02}", &city.code[..4], 1 + rng.below(12));
        let seq = {
            let s = rng.below(500) * 2;
            if sex == Sex::Male {
                s + 1
            } else {
                s
            }
        };
        let first17 = format!("{region}{}{:03}", birth.format("%Y%m%d"), seq);
        let Some(check) = resident_id_check_char(&first17) else {
            continue;
        };
        let number = format!("{first17}{check}");
        if !seen.insert(number.clone()) {
            continue;
        }
        let given = match sex {
            Sex::Male => rng.pick(GIVEN_MALE),
            Sex::Female => rng.pick(GIVEN_FEMALE),
        };
        let name = format!("{}{}", rng.pick(SURNAMES), given);
        let short_city = city.name.trim_end_matches('市');
        let address = format!(
            "{}{}{}{}{}号{}栋{}室",
            city.province,
            city.name,
            if city.province.is_empty() {
                format!("{short_city}{}", rng.pick(DISTRICT_SUFFIXES))
            } else {
                rng.pick(DISTRICT_SUFFIXES).to_string()
            },
            rng.pick(STREETS),
            1 + rng.below(400),
            1 + rng.below(30),
            100 * (1 + rng.below(30)) + 1 + rng.below(6),
        );
        let eighteen = birth.checked_add_days(Days::new(18 * 366)).unwrap_or(birth);
        let first_issue = eighteen
            .checked_add_days(Days::new(rng.below(15 * 365)))
            .unwrap_or(eighteen)
            .min(today);
        // Validity periods of 6 or 10 years (or long-term), some ending soon or already over.
        let valid_from = today
            .checked_sub_days(Days::new(rng.below(9 * 365)))
            .unwrap_or(today)
            .max(first_issue);
        let years = *rng.pick(&[6u64, 10, 10, 10]);
        let mut valid_to = valid_from
            .checked_add_days(Days::new(years * 365))
            .unwrap_or(valid_from);
        let mut states = Vec::new();
        // About one in eight licences carries a state flag, cycling through every flag.
        if index.is_multiple_of(8) {
            let state = LicenceState::ALL[(index / 8) % LicenceState::ALL.len()];
            states.push(state);
            if state == LicenceState::Expired {
                valid_to = today.checked_sub_days(Days::new(1 + rng.below(300))).unwrap_or(today);
            }
        }
        // Some licences ran out of validity without the register flagging it yet.
        if index.is_multiple_of(97) {
            valid_to = today.checked_sub_days(Days::new(1 + rng.below(30))).unwrap_or(today);
        }
        let valid_from = valid_from.min(valid_to.pred_opt().unwrap_or(valid_to));
        let classes = CLASS_SETS[index % CLASS_SETS.len()].to_vec();
        // Drawn in the order the fields were always drawn in, so a seed keeps giving the same register.
        let archive_number = format!("{}{:08}", &city.code[..4], rng.below(100_000_000));
        let points = if rng.below(5) == 0 { rng.below(13) as u8 } else { 0 };
        let on_file = rng.below(10) < 7;
        out.push(Licence {
            archive_number,
            number: number.clone(),
            holder_id: number,
            name,
            sex,
            nationality: "CHN".into(),
            birth_date: birth,
            address,
            first_issue_date: first_issue.min(valid_from),
            classes,
            valid_from,
            valid_to,
            issuing_authority: authority_for(Some(city), &city.code),
            points,
            states,
            photo_on_file: on_file,
            photo_sha256: on_file.then(|| sample_photo(4 + index % SHARED_PORTRAITS)).flatten(),
            photo_image: None,
            version: 0,
        });
    }
    out
}

/// The sample register as JSON Lines, the import format of `POST /admin/licences`. The first line naming
/// each photo on file carries the image itself (`photoImage`, which the import normalises into the very
/// portrait `photoSha256` names); later lines name it by `photoSha256` alone.
pub fn to_json_lines(licences: &[Licence]) -> String {
    let mut out = String::with_capacity(licences.len() * 480);
    let mut carried = std::collections::HashSet::new();
    for licence in licences {
        let Ok(mut line) = serde_json::to_value(licence) else {
            continue;
        };
        let photo = licence
            .photo_sha256
            .as_ref()
            .and_then(|sha| sample_photos().iter().find(|p| &p.portrait.sha256 == sha));
        if let (Some(photo), Some(fields)) = (photo, line.as_object_mut()) {
            if carried.insert(photo.portrait.sha256.clone()) {
                fields.remove("photoSha256");
                fields.insert("photoImage".into(), STANDARD.encode(&photo.image).into());
            }
        }
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_valid_deterministic_and_covers_every_class_and_state() {
        let a = generate(10_000, 2026);
        let b = generate(10_000, 2026);
        assert_eq!(a, b);
        assert_eq!(a.len(), 10_000);
        for licence in &a {
            let errors = licence.validate();
            assert!(errors.is_empty(), "{}: {errors:?}", licence.number);
        }
        for class in VehicleClass::ALL {
            assert!(a.iter().any(|l| l.classes.contains(&class)), "{class}");
        }
        for state in LicenceState::ALL {
            assert!(a.iter().any(|l| l.states.contains(&state)), "{state:?}");
        }
        let mut numbers: Vec<_> = a.iter().map(|l| &l.number).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), a.len());
        assert_eq!(&a[..5], &showcase_licences()[..]);
    }

    #[test]
    fn the_showcase_holders_with_a_photo_on_file_have_their_own_drawn_portrait() {
        let showcase = showcase_licences();
        let photos: Vec<Option<&String>> = showcase.iter().map(|l| l.photo_sha256.as_ref()).collect();
        assert_eq!(photos[1], None, "李娜 has no photo on file");
        let mut own: Vec<&String> = photos.iter().flatten().copied().collect();
        assert_eq!(own.len(), 4);
        own.sort();
        own.dedup();
        assert_eq!(own.len(), 4, "each showcase holder has a portrait of their own");
        for photo in sample_photos() {
            assert!(photo.portrait.jpeg.len() <= portrait::MAX_PORTRAIT_BYTES);
            assert_eq!((photo.portrait.width, photo.portrait.height), (360, 480));
        }
        // Generated holders with a photo on file share the drawn ones; the others have none.
        for licence in generate(200, 2026) {
            assert_eq!(
                licence.photo_on_file,
                licence.photo_sha256.is_some(),
                "{}",
                licence.number
            );
        }
    }

    #[test]
    fn the_json_lines_carry_each_image_once_and_it_normalises_to_the_portrait_named() {
        let licences = generate(300, 2026);
        let text = to_json_lines(&licences);
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let carrying: Vec<&serde_json::Value> = lines.iter().filter(|l| l["photoImage"].is_string()).collect();
        assert_eq!(carrying.len(), sample_photos().len());
        for (line, licence) in lines.iter().zip(&licences) {
            if let Some(image) = line["photoImage"].as_str() {
                let bytes = STANDARD.decode(image).unwrap();
                let normalised = portrait::normalise(&bytes, &PhotoRules::default()).unwrap();
                assert_eq!(Some(normalised.sha256), licence.photo_sha256);
            } else {
                assert_eq!(line["photoSha256"].as_str(), licence.photo_sha256.as_deref());
            }
        }
    }
}
