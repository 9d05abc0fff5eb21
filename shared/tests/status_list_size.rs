//! The status lists' size, measured (README, Benchmarks): one signed token of the deployed shape (2^20 two-bit
//! entries) filled as thirty million licences over 128 lists fill it, at 1 % and 5 % of licences stopped,
//! superseded or expired, with the entries of documents a refresh replaced reading invalid (as shipped) or as
//! their licence (`replaced_documents_invalid: false`, then they add nothing); printed as bytes per token and per
//! million licences. `cargo test -p edl-shared --test status_list_size -- --nocapture`.

// A test binary: its helpers fail the test by panicking, as the tests themselves do.
#![allow(clippy::panic, clippy::expect_used, clippy::print_stdout)]

use shared::credential::status_list::{self, StatusList, StatusListToken, INVALID, SUSPENDED, VALID};
use shared::crypto::LocalSigner;
use shared::issuance::status::{DEFAULT_LISTS, LIST_SIZE, STATUS_BITS};

/// Licences in the country, as issue 12 sizes them.
const LICENCES: u64 = 30_000_000;
/// Entries of documents a refresh replaced, per licence at any moment: a document is signed again about every
/// 16 days and its predecessor's entry reads invalid for the 10 days left of it.
const RETIRED_PER_LICENCE: f64 = 10.0 / 16.0;

/// xorshift64*: the same list every run, so that the printed sizes repeat.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// One list as a deployment of `LICENCES` fills it: each licence's entry at a random free index, `revoked` of
/// them not valid (a third suspended, the rest invalid), and `retired` replaced documents' entries invalid.
fn filled(revoked: f64, retired: f64, seed: u64) -> (StatusList, u64) {
    let mut list = StatusList::new(STATUS_BITS, LIST_SIZE).expect("list");
    let per_list = LICENCES / u64::from(DEFAULT_LISTS);
    let entries = per_list + (per_list as f64 * retired) as u64;
    let mut draw = Draw(seed);
    let mut placed = 0u64;
    let mut taken = vec![false; LIST_SIZE as usize];
    while placed < entries {
        let idx = draw.next() % LIST_SIZE;
        if std::mem::replace(&mut taken[idx as usize], true) {
            continue;
        }
        let status = if placed >= per_list {
            INVALID
        } else {
            let roll = (draw.next() % 1_000_000) as f64 / 1_000_000.0;
            match roll {
                r if r < revoked / 3.0 => SUSPENDED,
                r if r < revoked => INVALID,
                _ => VALID,
            }
        };
        list.set(idx, status).expect("entry");
        placed += 1;
    }
    (list, entries)
}

#[tokio::test]
async fn status_list_bytes_per_million_licences() {
    let signer = LocalSigner::new();
    signer.generate("ds");
    println!(
        "{} licences over {DEFAULT_LISTS} lists of {LIST_SIZE} entries, {STATUS_BITS} bits each:",
        LICENCES
    );
    println!("| revoked | replaced documents' entries | entries a list | token bytes | bytes per million licences |");
    println!("| --- | --- | --- | --- | --- |");
    let mut sizes = Vec::new();
    for (revoked, retired) in [
        (0.01, 0.0),
        (0.05, 0.0),
        (0.01, RETIRED_PER_LICENCE),
        (0.05, RETIRED_PER_LICENCE),
    ] {
        let (list, entries) = filled(revoked, retired, 0x5EED);
        let token = StatusListToken {
            uri: "https://edl.example.gov.cn/status-lists/0".into(),
            issued_at: 1_795_000_000,
            expires_at: 1_795_086_400,
            ttl: 900,
            list,
        };
        let bytes = status_list::encode(&token, &signer, "ds", b"ds-1")
            .await
            .expect("signed")
            .len();
        let per_million = bytes as f64 * f64::from(DEFAULT_LISTS) / (LICENCES as f64 / 1_000_000.0);
        println!(
            "| {:.0} % | {} | {entries} | {bytes} | {per_million:.0} |",
            revoked * 100.0,
            if retired > 0.0 {
                "0.625 a licence, invalid (shipped)"
            } else {
                "read as their licence"
            }
        );
        sizes.push(bytes);
        // Never near the 256 KiB of the packed list: the compression does its work.
        assert!(bytes < 128 * 1024, "{bytes}");
    }
    // More revoked entries make a larger token.
    assert!(sizes[0] < sizes[1] && sizes[2] < sizes[3], "{sizes:?}");
}
