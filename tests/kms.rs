//! The KMS signer against the AWS emulator: DIGEST signing, low-S raw signatures, certificates, disabled and unknown keys.

use chrono::{Duration, Utc};
use shared::adapters::kms::{create_signing_key, KmsSigner};
use shared::credential::cert::{self, Subject};
use shared::crypto::{sha256, verify_es256, verify_es256_digest};
use shared::kernel::signing::{Signer, SignerError};

/// Half the order of P-256, big-endian: a low-S signature has s <= this.
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xde, 0x73, 0x7d,
    0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

fn is_low_s(raw: &[u8; 64]) -> bool {
    raw[32..] <= HALF_ORDER[..]
}

async fn signer_with_key(description: &str) -> (aws_config::SdkConfig, KmsSigner, String) {
    let config = edl_tests::aws_config().await;
    let key_id = create_signing_key(&config, description)
        .await
        .unwrap_or_else(|e| panic!("create a signing key on the emulator: {e}"));
    let signer = KmsSigner::new(&config);
    (config, signer, key_id)
}

#[tokio::test]
async fn signs_the_digest_of_a_message_too_large_for_raw_mode() {
    let (_, signer, key_id) = signer_with_key("edl test: large message").await;
    // Over KMS's 4096-byte limit for RAW messages: only DIGEST mode can sign it, and the
    // signature verifies over the whole message only if KMS took our bytes as the digest.
    let message: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let digest = sha256(&message);
    let raw = signer.sign_digest(&key_id, &digest).await.unwrap();
    let public = signer.public_key(&key_id).await.unwrap();
    assert_eq!(public.len(), 65);
    assert_eq!(public[0], 0x04, "SEC1 uncompressed");
    assert!(
        verify_es256(&public, &message, &raw),
        "the signature verifies over the message"
    );
    assert!(verify_es256_digest(&public, &digest, &raw));
    assert!(is_low_s(&raw), "S is normalised to the lower half");
    assert!(!verify_es256(&public, &message[1..], &raw));
    // The cached public key is the one KMS gives.
    assert_eq!(signer.public_key(&key_id).await.unwrap(), public);
    assert_eq!(
        KmsSigner::new(&edl_tests::aws_config().await)
            .public_key(&key_id)
            .await
            .unwrap(),
        public
    );
}

#[tokio::test]
async fn fifty_signatures_all_verify_and_are_low_s() {
    let (_, signer, key_id) = signer_with_key("edl test: fifty").await;
    let public = signer.public_key(&key_id).await.unwrap();
    // Some DER signatures have a short r or s (or a 33-byte one): all must come out right.
    for i in 0..50 {
        let message = format!("document {i} of fifty");
        let digest = sha256(message.as_bytes());
        let raw = signer
            .sign_digest(&key_id, &digest)
            .await
            .unwrap_or_else(|e| panic!("signature {i}: {e}"));
        assert!(
            verify_es256(&public, message.as_bytes(), &raw),
            "signature {i} verifies"
        );
        assert!(is_low_s(&raw), "signature {i} is low-S");
    }
}

#[tokio::test]
async fn issues_an_iaca_and_a_document_signer_through_kms() {
    let config = edl_tests::aws_config().await;
    let iaca_key = create_signing_key(&config, "edl test: IACA").await.unwrap();
    let ds_key = create_signing_key(&config, "edl test: document signer").await.unwrap();
    let signer = KmsSigner::new(&config);
    let now = Utc::now();
    let iaca_subject = Subject {
        country: "CN".into(),
        organisation: "中华人民共和国公安部交通管理局".into(),
        common_name: "China mDL IACA (test)".into(),
    };
    let ds_subject = Subject {
        common_name: "China mDL Document Signer (test)".into(),
        ..iaca_subject.clone()
    };
    let uri = "https://edl.example.gov.cn/iaca";
    let iaca = cert::issue_iaca(
        &signer,
        &iaca_key,
        &iaca_subject,
        uri,
        now - Duration::days(1),
        now + Duration::days(3650),
    )
    .await
    .unwrap();
    let ds_public = signer.public_key(&ds_key).await.unwrap();
    let ds = cert::issue_document_signer(
        &signer,
        &iaca_key,
        &iaca,
        &ds_public,
        &ds_subject,
        uri,
        now - Duration::days(1),
        now + Duration::days(365),
    )
    .await
    .unwrap();
    let info = cert::verify_document_signer(&iaca, &ds, now).unwrap();
    assert_eq!(info.public_sec1, ds_public);
    assert_eq!(
        cert::public_key_of(&iaca).unwrap(),
        signer.public_key(&iaca_key).await.unwrap()
    );
    assert!(
        info.subject.contains("CN=China mDL Document Signer (test)"),
        "{}",
        info.subject
    );
    assert!(matches!(
        cert::verify_document_signer(&iaca, &ds, now + Duration::days(400)),
        Err(cert::CertError::Expired(_))
    ));

    // What the document signer then signs verifies with the key in its certificate.
    let document = b"an mdoc's MSO";
    let raw = signer.sign_digest(&ds_key, &sha256(document)).await.unwrap();
    assert!(verify_es256(&info.public_sec1, document, &raw));
}

#[tokio::test]
async fn a_disabled_key_refuses_to_sign() {
    let (config, signer, key_id) = signer_with_key("edl test: disabled").await;
    let digest = sha256(b"before");
    signer.sign_digest(&key_id, &digest).await.unwrap();
    let kms = aws_sdk_kms::Client::new(&config);
    kms.disable_key()
        .key_id(&key_id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DisableKey: {}", aws_sdk_kms::error::DisplayErrorContext(&e)));
    assert_eq!(
        signer.sign_digest(&key_id, &sha256(b"after")).await,
        Err(SignerError::Disabled(key_id.clone()))
    );
    kms.enable_key().key_id(&key_id).send().await.unwrap();
    signer.sign_digest(&key_id, &sha256(b"again")).await.unwrap();

    // A key pending deletion may not sign either (KMSInvalidStateException).
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ScheduleKeyDeletion: {}", aws_sdk_kms::error::DisplayErrorContext(&e)));
    assert_eq!(
        signer.sign_digest(&key_id, &sha256(b"doomed")).await,
        Err(SignerError::Disabled(key_id.clone()))
    );
}

#[tokio::test]
async fn an_unknown_key_is_reported_as_such() {
    let config = edl_tests::aws_config().await;
    let signer = KmsSigner::new(&config);
    let missing = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        signer.sign_digest(&missing, &sha256(b"x")).await,
        Err(SignerError::UnknownKey(missing.clone()))
    );
    assert_eq!(
        signer.public_key(&missing).await,
        Err(SignerError::UnknownKey(missing.clone()))
    );
}
