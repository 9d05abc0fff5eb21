//! Benchmark: one raw ES256 verification by aws-lc-rs (key parsed once, and parsed each time) and by RustCrypto's
//! p256 side by side (the fastest is the baseline), a show code verified end to end as a ratio of it, and one mdoc
//! DeviceResponse verified end to end by our verifier and by isomdl, all measured in the same run. Run with
//! `cargo bench -p edl-verify`; the README's "Benchmarks" says what each row means.

// A command-line tool: its output is for the person at the terminal (Lambda code logs through tracing).
#![allow(clippy::print_stdout)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use shared::adapters::embedded::EmbeddedRecords;
use shared::adapters::NoLivenessService;
use shared::applications::application::{Application, ApplicationState, Channel, Opening, PhotoSource};
use shared::applications::ports::ApplicationStore;
use shared::credential::presentation::{self, SessionTranscript};
use shared::credential::{mdoc, showcode};
use shared::crypto::{verify_es256, LocalSigner};
use shared::kernel::caller::Actor;
use shared::kernel::caller::{Caller, Role};
use shared::kernel::signing::Signer;
use shared::kernel::time::SystemClock;
use shared::register::ports::{RegisterStore, RolloutStore};
use shared::service::keys::Authority;
use shared::service::verification::VerificationRequest;
use shared::service::{Issuing, Notices, Services, Showing, Signing};
use shared::verification::disclosure::disclose;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs every row in turn, each for a slice of about a millisecond, until `budget` is spent, after a warm-up;
/// each row's mean time per call. Interleaved so that a machine whose load changes during the run slows every
/// row alike, and the ratios between rows hold.
fn measure_interleaved<const N: usize>(budget: Duration, rows: [&mut dyn FnMut(); N]) -> [Duration; N] {
    let mut rows = rows;
    for f in rows.iter_mut() {
        for _ in 0..20 {
            f();
        }
    }
    let slice = Duration::from_millis(1);
    let mut spent = [(Duration::ZERO, 0u32); N];
    let start = Instant::now();
    while start.elapsed() < budget {
        for (f, (time, runs)) in rows.iter_mut().zip(spent.iter_mut()) {
            let began = Instant::now();
            loop {
                f();
                *runs += 1;
                if began.elapsed() >= slice {
                    break;
                }
            }
            *time += began.elapsed();
        }
    }
    spent.map(|(time, runs)| time / runs.max(1))
}

/// What the mdoc comparison needs: a DeviceResponse, its transcript and the IACA it chains to.
struct Presented {
    response: Vec<u8>,
    transcript: SessionTranscript,
    iaca: Vec<u8>,
}

/// The service with 1,000 sample licences, the first holder's licence issued and its show code.
async fn setup() -> Result<(Services, String, Presented), String> {
    let records = Arc::new(EmbeddedRecords::new());
    records
        .seed_rollout(&shared::register::rollout::Plan::default_plan())
        .await
        .map_err(|e| e.to_string())?;
    let licences = shared::sample::generate(1000, 2026);
    records.import_licences(&licences).await.map_err(|e| e.to_string())?;
    let signer = Arc::new(LocalSigner::new());
    signer.generate("iaca");
    signer.generate("ds");
    let mut services = Services::new(records.clone(), Arc::new(SystemClock), Arc::new(NoLivenessService));
    // The benchmark verifies as often as it can: its organisation's quota is not what it measures.
    services.quotas.default_requests = u64::MAX / 2;
    // The register's photos on file, which issuance signs as the portrait.
    let photos = Arc::new(shared::adapters::embedded::photos::EmbeddedPhotos::new(
        shared::dev::DevKeys::random(),
        "http://127.0.0.1:9",
    ));
    shared::sample::seed_photos(photos.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    let issuing = Issuing {
        signing: Signing::new(services.clone(), signer.clone()),
        photos,
        notices: Notices(Arc::new(shared::adapters::embedded::notices::EmbeddedNotices::default())),
    };
    let iaca = issuing
        .install_iaca(&Authority::default(), "iaca")
        .await
        .map_err(|e| e.to_string())?;
    let ds = issuing
        .add_document_signer(&Authority::default(), "ds")
        .await
        .map_err(|e| e.to_string())?;
    // An approved application for the first sample holder, issued.
    let holder = "11010519900307451X";
    let mut application = Application::open(Opening {
        id: "bench-application".into(),
        licence_number: holder.into(),
        holder_id: holder.into(),
        city_code: "110000".into(),
        channel: Channel::Counter,
        photo_source: PhotoSource::OnFile,
        opened_by: Actor {
            id: "clerk".into(),
            role: Role::Clerk,
        },
        office: Some("110000".into()),
        at: services.now(),
        device_key: None,
        portrait: None,
    });
    application.state = ApplicationState::Approved;
    records
        .create_application(&application)
        .await
        .map_err(|e| e.to_string())?;
    issuing.issue("bench-application").await.map_err(|e| e.to_string())?;
    let caller = Caller {
        id: holder.into(),
        roles: vec![Role::Holder],
        office: None,
        organisation: None,
    };
    let showing = Showing {
        signing: issuing.signing.clone(),
        pages: std::sync::Arc::new(shared::credential::pages::InProcess),
    };
    let code = showing.show_code(&caller).await.map_err(|e| e.to_string())?.code;

    // The same holder's licence as an mdoc bound to a device key, presented in a DeviceResponse.
    let der = |entry: &shared::verification::ports::TrustEntry| {
        STANDARD.decode(&entry.certificate).map_err(|e| e.to_string())
    };
    let (iaca, ds) = (der(&iaca)?, der(&ds)?);
    let device = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
    let device_sec1 = device.verifying_key().to_encoded_point(false).as_bytes().to_vec();
    let now = services.now();
    let licence = licences.first().ok_or("no sample licence")?;
    let issued = mdoc::issue(
        &mdoc::MdocInput {
            licence,
            serial: "11000026120400001234",
            portrait_jpeg: None,
            generated_at: now,
            valid_from: now,
            valid_until: now + chrono::Duration::days(30),
            device_key_sec1: Some(&device_sec1),
            status: None,
        },
        signer.as_ref(),
        "ds",
        &ds,
    )
    .await
    .map_err(|e| e.to_string())?;
    let transcript = SessionTranscript::online(b"a verifier nonce").map_err(|e| e.to_string())?;
    let response = isomdl_response(&issued, &device, &transcript)?;
    Ok((
        services,
        code,
        Presented {
            response,
            transcript,
            iaca,
        },
    ))
}

/// isomdl's session transcript: our online transcript's CBOR.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Transcript(ciborium::Value);
impl isomdl::definitions::session::SessionTranscript for Transcript {}

/// The DeviceResponse as isomdl builds it, signed by the device over `transcript`.
fn isomdl_response(
    issued: &mdoc::IssuedMdoc,
    device: &p256::ecdsa::SigningKey,
    transcript: &SessionTranscript,
) -> Result<Vec<u8>, String> {
    use isomdl::cose::MaybeTagged;
    use isomdl::definitions::device_response::{Document, Status};
    use isomdl::definitions::device_signed::{DeviceAuth, DeviceAuthentication, DeviceSigned};
    use isomdl::definitions::helpers::{NonEmptyVec, Tag24};
    use isomdl::definitions::{DeviceResponse, IssuerSigned};
    use p256::ecdsa::signature::Signer as _;
    let name_spaces = Tag24::new(std::collections::BTreeMap::new()).map_err(|e| e.to_string())?;
    let authentication = Tag24::new(DeviceAuthentication::new(
        Transcript(transcript.value().clone()),
        mdoc::DOC_TYPE.into(),
        name_spaces.clone(),
    ))
    .map_err(|e| e.to_string())?;
    let authentication = isomdl::cbor::to_vec(&authentication).map_err(|e| e.to_string())?;
    let signature = coset::CoseSign1Builder::new()
        .protected(
            coset::HeaderBuilder::new()
                .algorithm(coset::iana::Algorithm::ES256)
                .build(),
        )
        .create_detached_signature(&authentication, b"", |tbs| {
            let signature: p256::ecdsa::Signature = device.sign(tbs);
            signature.to_bytes().to_vec()
        })
        .build();
    let issuer_signed: IssuerSigned = isomdl::cbor::from_slice(&issued.issuer_signed).map_err(|e| e.to_string())?;
    let response = DeviceResponse {
        version: DeviceResponse::VERSION.into(),
        documents: Some(NonEmptyVec::new(Document {
            doc_type: mdoc::DOC_TYPE.into(),
            issuer_signed,
            device_signed: DeviceSigned {
                namespaces: name_spaces,
                device_auth: DeviceAuth::DeviceSignature(MaybeTagged::new(false, signature)),
            },
            errors: None,
        })),
        document_errors: None,
        status: Status::OK,
    };
    isomdl::cbor::to_vec(&response).map_err(|e| e.to_string())
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return;
        }
    };
    let (services, code, presented) = runtime.block_on(setup()).unwrap_or_else(|e| {
        eprintln!("setup failed: {e}");
        std::process::exit(1);
    });

    // The raw baseline: one ES256 signature over a message of the show code's size, verified from the
    // SEC1 key and the raw r||s by each implementation: aws-lc-rs parsing the key for each signature and
    // with the key parsed once (as the trust set holds it), and RustCrypto's p256 for reference.
    let signer = LocalSigner::new();
    signer.generate("raw");
    let message = code.as_bytes().to_vec();
    let digest = shared::crypto::sha256(&message);
    let (public, signature) =
        runtime.block_on(async { (signer.public_key("raw").await, signer.sign_digest("raw", &digest).await) });
    let (Ok(public), Ok(signature)) = (public, signature) else {
        eprintln!("baseline setup failed");
        return;
    };
    let aws_lc = |public: &[u8], message: &[u8], signature: &[u8]| {
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED, public)
            .verify(message, signature)
            .is_ok()
    };
    let Ok(parsed) =
        aws_lc_rs::signature::ParsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED, &public)
    else {
        eprintln!("aws-lc-rs refused the baseline key");
        return;
    };
    let rust_crypto = |public: &[u8], message: &[u8], signature: &[u8]| match (
        p256::ecdsa::VerifyingKey::from_sec1_bytes(public),
        p256::ecdsa::Signature::from_slice(signature),
    ) {
        (Ok(key), Ok(signature)) => key.verify(message, &signature).is_ok(),
        _ => false,
    };
    assert!(aws_lc(&public, &message, &signature) && rust_crypto(&public, &message, &signature));
    assert!(parsed.verify_sig(&message, &signature).is_ok() && verify_es256(&public, &message, &signature));

    let officer = Caller {
        id: "officer-bench".into(),
        roles: vec![Role::Officer],
        office: None,
        organisation: Some("bench".into()),
    };
    // Every row interleaved with the others over this budget (about two seconds each).
    let budget = Duration::from_secs(20);
    let mut raw_aws_lc = || {
        black_box(aws_lc(black_box(&public), black_box(&message), black_box(&signature)));
    };
    let mut raw_aws_lc_parsed = || {
        black_box(parsed.verify_sig(black_box(&message), black_box(&signature))).ok();
    };
    let mut raw_p256 = || {
        black_box(rust_crypto(
            black_box(&public),
            black_box(&message),
            black_box(&signature),
        ));
    };
    // Where the show code's time goes: its decoding alone, then decoding and its signature with the
    // trust set's key (what the credential costs before any record is read or written).
    let trust = runtime.block_on(services.trust_set()).unwrap_or_else(|e| {
        eprintln!("no trust set: {e}");
        std::process::exit(1);
    });
    let decode = || {
        showcode::decode(
            black_box(&code),
            showcode::CodeKind::Licence,
            showcode::DEFAULT_MAX_INFLATED,
        )
    };
    let Some(code_key) = decode().ok().and_then(|signed| {
        trust
            .signers
            .get(&*String::from_utf8_lossy(&signed.kid))
            .map(|s| s.key.clone())
    }) else {
        eprintln!("the show code does not decode to a trusted key");
        return;
    };
    let mut decoded = || {
        assert!(black_box(decode()).is_ok());
    };
    let mut decoded_and_signature = || {
        assert!(decode().is_ok_and(|signed| signed.verify_with(black_box(&code_key)).is_ok()));
    };
    // The officer's answer: every field, the portrait read out of the stored mdoc.
    let (serial, today, now) = match decode() {
        Ok(signed) => (signed.claims.serial, services.today(), services.now()),
        Err(e) => {
            eprintln!("the show code does not decode: {e}");
            return;
        }
    };
    let live = runtime.block_on(async {
        let edl = services.records.electronic_licence(&serial).await.ok().flatten()?;
        let licence = services.records.licence(&edl.licence_number).await.ok().flatten()?;
        let changes = services.records.licence_changes(&licence.number).await.ok()?;
        Some((edl, licence, changes))
    });
    let Some((edl, licence, changes)) = live else {
        eprintln!("the show code's licence is not on record");
        return;
    };
    let mut disclosed = || {
        let fields = disclose(&services.disclosure.officer, &edl, &licence, &changes, None, today, now);
        assert!(black_box(fields).contains_key("portrait"));
    };
    let mut end_to_end = || {
        let request = VerificationRequest {
            code: Some(code.clone()),
            barcode: None,
            mdoc: None,
            device_response: None,
            nonce: None,
            purpose: None,
            class: None,
        };
        let result = runtime.block_on(services.verify(&officer, request));
        assert!(matches!(result, Ok(ref r) if r.valid), "{result:?}");
    };

    // One DeviceResponse: ours (issuer signature, digests, validity, docType, device signature,
    // the document signer's chain to the IACA, verified once per instance) beside isomdl's parse and
    // validate_response (which verifies the chain every time).
    let now = services.now();
    let mut ours = || {
        let verified = presentation::verify_device_response(
            black_box(&presented.response),
            mdoc::DOC_TYPE,
            &presented.transcript,
            now,
            0,
        );
        // The chain as the service checks it: from the chains its trust set verified at load.
        let chained = verified
            .as_ref()
            .map(|v| trust.chains_to_iaca(&v.document_signer_der, v.signed));
        assert!(matches!(chained, Ok(true)), "{verified:?}");
    };
    let registry = {
        use isomdl::definitions::x509::trust_anchor::{TrustAnchor, TrustAnchorRegistry, TrustPurpose};
        let certificate = der::Decode::from_der(&presented.iaca).unwrap_or_else(|e| {
            eprintln!("the IACA does not parse: {e}");
            std::process::exit(1);
        });
        TrustAnchorRegistry {
            anchors: vec![TrustAnchor {
                certificate,
                purpose: TrustPurpose::Iaca,
            }],
        }
    };
    let transcript = Transcript(presented.transcript.value().clone());
    let mut isomdl = || {
        use isomdl::presentation::authentication::AuthenticationStatus;
        let response: isomdl::definitions::DeviceResponse =
            isomdl::cbor::from_slice(black_box(&presented.response)).unwrap_or_else(|e| panic_free_exit(&e));
        let (document, x5chain, disclosed) =
            isomdl::presentation::reader::parse(&response).unwrap_or_else(|e| panic_free_exit(&e));
        let outcome = isomdl::presentation::reader_utils::validate_response(
            transcript.clone(),
            registry.clone(),
            x5chain,
            document.clone(),
            disclosed,
        );
        assert!(
            outcome.issuer_authentication == AuthenticationStatus::Valid
                && outcome.device_authentication == AuthenticationStatus::Valid
                && outcome.errors.is_empty(),
            "{:?}",
            outcome.errors
        );
    };
    let [raw_aws_lc, raw_aws_lc_parsed, raw_p256, decoded, decoded_and_signature, disclosed, end_to_end, ours, isomdl] =
        measure_interleaved(
            budget,
            [
                &mut raw_aws_lc,
                &mut raw_aws_lc_parsed,
                &mut raw_p256,
                &mut decoded,
                &mut decoded_and_signature,
                &mut disclosed,
                &mut end_to_end,
                &mut ours,
                &mut isomdl,
            ],
        );

    let raws = [
        ("aws-lc-rs, key parsed once", raw_aws_lc_parsed),
        ("aws-lc-rs", raw_aws_lc),
        ("p256", raw_p256),
    ];
    let (baseline_name, baseline) = raws.iter().copied().min_by_key(|(_, d)| *d).unwrap_or(raws[0]);
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let ratio = |d: Duration| d.as_secs_f64() / baseline.as_secs_f64().max(f64::MIN_POSITIVE);
    let row = |what: &str, d: Duration| println!("{what:<62} {:>9.1} µs {:>7.2}x", micros(d), ratio(d));
    println!("{:<62} {:>12} {:>8}", "", "mean", "÷ base");
    row("raw ES256 verify, aws-lc-rs, key parsed once", raw_aws_lc_parsed);
    row("raw ES256 verify, aws-lc-rs, key parsed each time", raw_aws_lc);
    row("raw ES256 verify, RustCrypto p256 (reference)", raw_p256);
    row("show code decoded (Base45, inflate, CBOR, COSE, claims)", decoded);
    row("show code decoded and its signature checked", decoded_and_signature);
    row("an officer's disclosure (fields, portrait out of the mdoc)", disclosed);
    row("show code verified end to end (POST /verifications)", end_to_end);
    row("mdoc DeviceResponse verified end to end, ours", ours);
    row("the same DeviceResponse verified by isomdl 0.2", isomdl);
    println!("baseline: the fastest raw verify of this run ({baseline_name})");
    println!(
        "show code end to end: {:.2}x the baseline (target: within 1.30x)",
        ratio(end_to_end)
    );
    println!(
        "mdoc DeviceResponse: isomdl takes {:.2}x ours",
        isomdl.as_secs_f64() / ours.as_secs_f64().max(f64::MIN_POSITIVE)
    );
}

/// A benchmark that cannot go on says why and stops.
fn panic_free_exit<E: std::fmt::Debug, T>(e: &E) -> T {
    eprintln!("isomdl refused the response: {e:?}");
    std::process::exit(1)
}
