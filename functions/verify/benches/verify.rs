//! Benchmark: verifying a show code end to end (decode, key, signature, validity, live record,
//! disclosure, audit write) with the embedded store, against one raw P-256 ECDSA verification
//! measured in the same run. Run with `cargo bench -p edl-verify`.

// A command-line tool: its output is for the person at the terminal (Lambda code logs through tracing).
#![allow(clippy::print_stdout)]

use shared::adapters::embedded::EmbeddedRecords;
use shared::adapters::NoLivenessService;
use shared::applications::application::{Application, ApplicationState, Channel, Opening, PhotoSource};
use shared::applications::ports::ApplicationStore;
use shared::crypto::{verify_es256, LocalSigner};
use shared::kernel::caller::Actor;
use shared::kernel::caller::{Caller, Role};
use shared::kernel::signing::Signer;
use shared::kernel::time::SystemClock;
use shared::register::ports::{RegisterStore, RolloutStore};
use shared::service::keys::Authority;
use shared::service::verification::VerificationRequest;
use shared::service::Services;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs `f` repeatedly for about `budget` after a warm-up; the mean time per call.
fn measure(budget: Duration, mut f: impl FnMut()) -> Duration {
    for _ in 0..50 {
        f();
    }
    let start = Instant::now();
    let mut runs = 0u32;
    while start.elapsed() < budget {
        for _ in 0..20 {
            f();
        }
        runs += 20;
    }
    start.elapsed() / runs.max(1)
}

fn main() {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start a runtime: {e}");
            return;
        }
    };
    let (services, code) = runtime
        .block_on(async {
            let records = Arc::new(EmbeddedRecords::new());
            records
                .seed_rollout(&shared::register::rollout::Plan::default_plan())
                .await
                .map_err(|e| e.to_string())?;
            records
                .import_licences(&shared::sample::generate(1000, 2026))
                .await
                .map_err(|e| e.to_string())?;
            let signer = LocalSigner::new();
            signer.generate("iaca");
            signer.generate("ds");
            let mut services = Services::new(records.clone(), Arc::new(SystemClock), Arc::new(NoLivenessService));
            services.signer = Some(Arc::new(signer));
            services
                .install_iaca(&Authority::default(), "iaca")
                .await
                .map_err(|e| e.to_string())?;
            services
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
            });
            application.state = ApplicationState::Approved;
            records
                .create_application(&application)
                .await
                .map_err(|e| e.to_string())?;
            services.issue("bench-application").await.map_err(|e| e.to_string())?;
            let caller = Caller {
                id: holder.into(),
                roles: vec![Role::Holder],
                office: None,
                organisation: None,
            };
            let code = services.show_code(&caller).await.map_err(|e| e.to_string())?.code;
            Ok::<_, String>((services, code))
        })
        .unwrap_or_else(|e| {
            eprintln!("setup failed: {e}");
            std::process::exit(1);
        });

    // The baseline: one raw ES256 verification of a message of the same size.
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
    assert!(verify_es256(&public, &message, &signature));

    let officer = Caller {
        id: "officer-bench".into(),
        roles: vec![Role::Officer],
        office: None,
        organisation: Some("bench".into()),
    };
    let budget = Duration::from_secs(3);
    let raw = measure(budget, || {
        black_box(verify_es256(
            black_box(&public),
            black_box(&message),
            black_box(&signature),
        ));
    });
    let end_to_end = measure(budget, || {
        let request = VerificationRequest {
            code: Some(code.clone()),
            barcode: None,
            mdoc: None,
            purpose: None,
            class: None,
        };
        let result = runtime.block_on(services.verify(&officer, request));
        assert!(matches!(result, Ok(ref r) if r.valid), "{result:?}");
    });
    println!(
        "raw P-256 ECDSA verification (baseline): {:>10.1} µs",
        raw.as_secs_f64() * 1e6
    );
    println!(
        "show code verified end to end:           {:>10.1} µs",
        end_to_end.as_secs_f64() * 1e6
    );
    println!(
        "ratio end-to-end / raw verification:      {:>10.2}x",
        end_to_end.as_secs_f64() / raw.as_secs_f64().max(f64::MIN_POSITIVE)
    );
}
