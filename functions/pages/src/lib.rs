//! The pages function: draws the licence's front or back page as PNG for the licence function (R6).
//!
//! It holds the renderer and its font so that the licence function does not (issue 18: each function under 8 MB),
//! and it reaches nothing: its role grants no AWS action, and the portrait it decodes comes to it in the request.

use shared::credential::pages::{self, PngAnswer};

/// The answer to one request: the PNG, or why the page could not be drawn. A refusal is an answer, not a function
/// error, so that the licence function tells a page it cannot draw from a renderer it cannot reach.
pub fn handle(request: serde_json::Value) -> PngAnswer {
    let answer = pages::answer(request);
    if let PngAnswer::Refused(error) = &answer {
        // The kind of refusal only: its detail may quote the holder's data.
        tracing::warn!(refused = %refusal_kind(error), "the page was not drawn");
    }
    answer
}

/// The refusal's kind as its JSON names it (`PageError`'s serde tag), so that the log and the answer agree.
fn refusal_kind(error: &pages::PageError) -> String {
    serde_json::to_value(error)
        .ok()
        .and_then(|refusal| Some(refusal.get("kind")?.as_str()?.to_owned()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::credential::pages::{BackPage, FrontPage, PageError, PngRequest};

    /// The request as the licence function sends it, and the answer as it reads it back: both through JSON.
    fn over_the_wire(request: &PngRequest) -> Result<Vec<u8>, PageError> {
        let sent = serde_json::to_value(request).unwrap();
        let answer = serde_json::to_vec(&handle(sent)).unwrap();
        serde_json::from_slice::<PngAnswer>(&answer).unwrap().into_png()
    }

    fn width_and_height(png: &[u8]) -> (u32, u32) {
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let be = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
        (be(16), be(20))
    }

    #[test]
    fn both_pages_come_back_as_the_png_drawn_here() {
        let front = PngRequest::Front(Box::new(FrontPage {
            name: "张伟".into(),
            status: "green".into(),
            barcode_data: "110000261125000012348".into(),
            ..FrontPage::default()
        }));
        let png = over_the_wire(&front).unwrap();
        assert_eq!(png, pages::png_of(&front).unwrap());
        assert_eq!(width_and_height(&png), (1712, 1080));
        let back = PngRequest::Back(BackPage {
            address: "北京市东城区东长安街1号".into(),
            record: (0..40).map(|i| format!("记录 {i}")).collect(),
            ..BackPage::default()
        });
        let (width, height) = width_and_height(&over_the_wire(&back).unwrap());
        assert_eq!(width, 1712);
        assert!(height > 1080, "a long record grows the page: {height}");
    }

    #[test]
    fn a_refusal_keeps_its_kind_across_the_wire() {
        let bad_portrait = PngRequest::Front(Box::new(FrontPage {
            portrait_jpeg: Some(b"\xFF\xD8\xFFnot really".to_vec()),
            ..FrontPage::default()
        }));
        assert!(matches!(over_the_wire(&bad_portrait), Err(PageError::Portrait(_))));
        let bad_barcode = PngRequest::Front(Box::new(FrontPage {
            barcode_data: "证号".into(),
            ..FrontPage::default()
        }));
        assert!(matches!(
            over_the_wire(&bad_barcode),
            Err(PageError::Barcode(
                shared::credential::barcode::BarcodeError::UnsupportedCharacter('证')
            ))
        ));
    }

    #[test]
    fn the_logged_kind_is_the_one_the_answer_carries() {
        assert_eq!(refusal_kind(&PageError::ShowCode("too long".into())), "showCode");
        assert_eq!(refusal_kind(&PageError::Portrait("not a JPEG".into())), "portrait");
    }

    #[test]
    fn a_request_that_is_not_a_page_is_refused_not_a_crash() {
        for request in [
            serde_json::json!({}),
            serde_json::json!({ "page": "side" }),
            serde_json::json!({ "page": "front", "portraitJpeg": "not base64!" }),
            serde_json::json!("front"),
        ] {
            assert!(
                matches!(handle(request.clone()), PngAnswer::Refused(PageError::Request(_))),
                "{request}"
            );
        }
    }
}
