//! The licence function's page renderer (`shared::adapters::lambda`) against the emulator's Lambda: the page sent
//! whole, the PNG or the refusal the pages function answers read back, and a function that fails, answers nonsense
//! or does not exist reported as unreachable, never as a page.
//!
//! The function deployed here is a Python stand-in (the emulator runs Python without Docker): for the page named
//! "drawn" it checks that the portrait arrived intact and returns the answer the real pages function gives for that
//! page, computed in this process by the same code (`pages::answer`). The real pages function behind the licence
//! function is driven through API Gateway by the stack test (`scripts/stack/stack_test.py`).

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use shared::adapters::lambda::PageFunction;
use shared::credential::pages::{self, FrontPage, PageError, PageRenderer, PngAnswer, PngRequest};
use std::io::Write as _;

fn page(name: &str, portrait: Option<Vec<u8>>) -> PngRequest {
    PngRequest::Front(Box::new(FrontPage {
        name: name.into(),
        status: "green".into(),
        barcode_data: "110000261125000012348".into(),
        portrait_jpeg: portrait,
        ..FrontPage::default()
    }))
}

/// A zip holding `handler.py`.
fn zipped(source: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("handler.py", zip::write::SimpleFileOptions::default())
        .expect("a zip entry");
    zip.write_all(source.as_bytes()).expect("the handler");
    zip.finish().expect("the zip").into_inner()
}

/// Deploys the stand-in and returns its name.
async fn stand_in(config: &aws_config::SdkConfig, drawn: &str, portrait_base64: &str, refused: &str) -> String {
    let source = [
        "import json\n",
        "DRAWN = json.loads(r'''",
        drawn,
        "''')\nREFUSED = json.loads(r'''",
        refused,
        "''')\nPORTRAIT = '",
        portrait_base64,
        "'\n",
        r#"
def handler(event, context):
    name = event.get("name")
    if name == "drawn":
        if event.get("page") != "front" or event.get("portraitJpeg") != PORTRAIT:
            return {"refused": {"kind": "request", "detail": "the page did not arrive whole"}}
        return DRAWN
    if name == "refused":
        return REFUSED
    if name == "crash":
        raise RuntimeError("the renderer fell over")
    return {"something": "else"}
"#,
    ]
    .concat();
    let name = format!("edl-test-pages-{}", uuid::Uuid::new_v4().simple());
    // The role it runs as, which Lambda requires to exist; it is granted nothing, as the pages function's is not.
    let role = aws_sdk_iam::Client::new(config)
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("cannot create a role on the emulator: {}", aws_sdk_iam::error::DisplayErrorContext(&e)))
        .role
        .expect("the role")
        .arn;
    aws_sdk_lambda::Client::new(config)
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Python311)
        .handler("handler.handler")
        .role(role)
        .code(FunctionCode::builder().zip_file(Blob::new(zipped(&source))).build())
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot create a function on the emulator at {}: {}",
                edl_tests::aws_endpoint(),
                aws_sdk_lambda::error::DisplayErrorContext(&e)
            )
        });
    name
}

#[tokio::test]
async fn the_page_goes_whole_and_the_answer_comes_back_as_the_pages_function_gives_it() {
    let config = edl_tests::aws_config().await;
    let portrait = edl_tests::images::id_photo_jpeg(120, 160);
    let drawn_page = page("drawn", Some(portrait.clone()));
    let drawn_here = pages::png_of(&drawn_page).expect("the page drawn here");
    let drawn = serde_json::to_string(&pages::answer(serde_json::to_value(&drawn_page).unwrap())).unwrap();
    let refused = serde_json::to_string(&PngAnswer::Refused(PageError::Portrait("not a JPEG".into()))).unwrap();
    use base64::Engine as _;
    let portrait_base64 = base64::engine::general_purpose::STANDARD.encode(&portrait);
    let name = stand_in(&config, &drawn, &portrait_base64, &refused).await;
    let renderer = PageFunction::new(&config, name.clone());

    // The PNG, byte for byte what this process draws for the same page (some 100 KB through the payload).
    let png = renderer.png(&drawn_page).await.expect("the PNG");
    assert_eq!(png, drawn_here);
    assert!(png.len() > 10_000, "{} bytes", png.len());

    // A refusal keeps its kind: the licence function answers it as it would a page it drew itself.
    assert_eq!(
        renderer.png(&page("refused", None)).await,
        Err(PageError::Portrait("not a JPEG".into()))
    );

    // The function failing, answering something else, or missing: unreachable, and named.
    match renderer.png(&page("crash", None)).await {
        Err(PageError::Unreachable(why)) => {
            assert!(why.contains(&name) && why.contains("failed"), "{why}")
        }
        other => panic!("a crash is no page: {other:?}"),
    }
    match renderer.png(&page("nonsense", None)).await {
        Err(PageError::Unreachable(why)) => assert!(why.contains("something other than a page"), "{why}"),
        other => panic!("nonsense is no page: {other:?}"),
    }
    let missing = PageFunction::new(&config, format!("{name}-missing"));
    assert!(matches!(
        missing.png(&page("drawn", None)).await,
        Err(PageError::Unreachable(_))
    ));
}
