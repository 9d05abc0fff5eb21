//! Writes to stdout a generated ID photo (JPEG) that passes every automatic check: the stack test's camera upload.

use std::io::Write;

fn main() -> std::io::Result<()> {
    // A seed gives a different file (and digest) each run, so no upload is a duplicate of another.
    let seed = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    std::io::stdout().write_all(&edl_tests::images::id_photo_jpeg_variant(360, 480, seed))
}
