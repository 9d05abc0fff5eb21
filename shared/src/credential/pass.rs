//! The truck city-access pass as an mdoc of its own docType, signed through the licences' signer.

use super::mdoc::{self, full_date, text, DocumentInput, IssuedMdoc, MdocError};
use crate::kernel::signing::Signer;
use crate::kernel::time::local_offset;
use crate::truck::pass::TruckPass;
use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use ciborium::Value;

/// A docType and namespace of the authority's own: an ISO 18013-5 reader
/// asks for exactly this document, and a pass can never answer a request
/// for a driving licence (`org.iso.18013.5.1.mDL`) or the reverse.
pub const DOC_TYPE: &str = "cn.gov.mps.truckpass.1";
pub const NAMESPACE: &str = "cn.gov.mps.truckpass.1";

fn elements(pass: &TruckPass, city_name: &str) -> Vec<(&'static str, Value)> {
    let windows = pass
        .windows
        .iter()
        .map(|w| {
            Value::Map(vec![
                (text("from"), text(crate::truck::clock::format(w.from, false))),
                (text("to"), text(crate::truck::clock::format(w.to, true))),
            ])
        })
        .collect();
    vec![
        ("pass_serial", text(pass.serial.as_str())),
        ("plate", text(pass.plate.as_str())),
        ("vehicle_type", text(pass.vehicle_type.code())),
        ("emission_standard", text(pass.emission.code())),
        ("city", text(pass.city.as_str())),
        ("city_name", text(city_name)),
        ("pass_type", text(pass.pass_type.as_str())),
        (
            "zones",
            Value::Array(pass.zones.iter().map(|z| text(z.as_str())).collect()),
        ),
        ("valid_from", full_date(pass.valid_from)),
        ("valid_to", full_date(pass.valid_to)),
        ("time_windows", Value::Array(windows)),
        ("utc_offset", text("+08:00")),
        ("rules_version", Value::Integer(pass.rules_version.into())),
    ]
}

/// Signs the pass: valid from its first local day (or now, if that has
/// begun) until its last local day ends.
pub async fn issue(
    pass: &TruckPass,
    city_name: &str,
    generated_at: DateTime<Utc>,
    signer: &dyn Signer,
    key_id: &str,
    document_signer_der: &[u8],
) -> Result<IssuedMdoc, MdocError> {
    let first_day = local_offset()
        .from_local_datetime(&pass.valid_from.and_time(NaiveTime::MIN))
        .single()
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(generated_at);
    mdoc::sign_document(
        &DocumentInput {
            doc_type: DOC_TYPE,
            namespaces: vec![(NAMESPACE, elements(pass, city_name))],
            generated_at,
            valid_from: first_day.max(generated_at),
            valid_until: pass.ends_at(),
            device_key_sec1: None,
            status: None,
            aligned_element: None,
        },
        signer,
        key_id,
        document_signer_der,
    )
    .await
}
