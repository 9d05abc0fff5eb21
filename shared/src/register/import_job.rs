//! A large register import (issue 13 item 5): the job that takes an uploaded JSON Lines file in resumable chunks,
//! where it stands, and how a chunk of the file is cut at whole lines.

use crate::kernel::input::InputError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most bytes one chunk reads (one ranged GET): also the longest line a file may hold. A register line is
/// about 550 bytes, so `CHUNK_LINES` of them fit; a line carrying its photo (`photoImage`) may be a few hundred KiB.
pub const CHUNK_BYTES: u64 = 4 * 1024 * 1024;
/// The most lines one chunk imports: a few hundred batched writes, seconds of work, so that a crash replays little.
pub const CHUNK_LINES: usize = 2_000;
/// The largest file an upload form allows: 1 million register lines of about 600 bytes, with room to spare.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024 * 1024;
/// How many refused lines the job itself lists; every one is also in the job's report objects.
pub const LISTED_REJECTIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    /// Created; its file has not arrived.
    AwaitingUpload,
    /// The file arrived: chunks are being imported from `offset`.
    Running,
    /// Every line was read: imported or refused.
    Finished,
    /// Stopped for good: the file was replaced while it was read, or never arrived.
    Failed,
}

/// One import of a register file; stored as `IMPORT#<id>`, every change conditional on `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportJob {
    pub id: String,
    /// The caller's key: starting again with the same key is the same job.
    pub idempotency_key: String,
    pub state: ImportState,
    /// Where the file is uploaded (`imports/<id>.jsonl`).
    pub file_key: String,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    /// Until when its upload form is valid.
    pub upload_expires_at: DateTime<Utc>,
    /// The file as it arrived (size and entity tag): every read is of exactly this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_tag: Option<String>,
    /// The first byte not yet imported.
    pub offset: u64,
    /// The lines read so far (the next line's number is `lines_read + 1`).
    pub lines_read: u64,
    /// Lines whose licence is in the register as the line states it (written, or already so).
    pub imported: u64,
    /// Lines refused.
    pub rejected: u64,
    /// The first refused lines, by number, with why.
    #[serde(default)]
    pub rejections: Vec<InputError>,
    /// The next chunk starts inside a line longer than `CHUNK_BYTES`, already refused: skip to its end.
    #[serde(default)]
    pub skipping_line: bool,
    /// How many chunks were committed.
    pub chunks: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub version: u64,
}

impl ImportJob {
    /// The job for an idempotency key: its id is derived from the key, so a second start finds the first job.
    pub fn new(
        idempotency_key: &str,
        started_by: String,
        started_at: DateTime<Utc>,
        upload_expires_at: DateTime<Utc>,
    ) -> ImportJob {
        let id = job_id(idempotency_key);
        ImportJob {
            file_key: file_key(&id),
            id,
            idempotency_key: idempotency_key.into(),
            state: ImportState::AwaitingUpload,
            started_by,
            started_at,
            upload_expires_at,
            file_size: None,
            file_tag: None,
            offset: 0,
            lines_read: 0,
            imported: 0,
            rejected: 0,
            rejections: Vec::new(),
            skipping_line: false,
            chunks: 0,
            finished_at: None,
            failure: None,
            version: 1,
        }
    }

    /// Whether the job still has work (and so stays on the list of pending jobs).
    pub fn is_pending(&self) -> bool {
        matches!(self.state, ImportState::AwaitingUpload | ImportState::Running)
    }

    /// Where the refused lines of the chunk starting at `first_line` are listed in full.
    pub fn report_key(&self, first_line: u64) -> String {
        format!("{}{first_line:012}.json", self.report_prefix())
    }

    pub fn report_prefix(&self) -> String {
        format!("imports/{}/rejected/", self.id)
    }

    /// Records a refused line in the job's own list while it has room.
    pub fn list_rejections(&mut self, errors: &[InputError]) {
        let room = LISTED_REJECTIONS.saturating_sub(self.rejections.len());
        self.rejections.extend(errors.iter().take(room).cloned());
    }
}

/// A job's id: the first 128 bits of the SHA-256 of its idempotency key, in hex.
pub fn job_id(idempotency_key: &str) -> String {
    hex::encode(&Sha256::digest(format!("import:{idempotency_key}").as_bytes())[..16])
}

pub fn file_key(id: &str) -> String {
    format!("imports/{id}.jsonl")
}

/// The job an uploaded object belongs to: `imports/<id>.jsonl` only (reports and anything else are not imports).
pub fn job_of_file(key: &str) -> Option<&str> {
    let id = key.strip_prefix("imports/")?.strip_suffix(".jsonl")?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())).then_some(id)
}

/// An idempotency key is what an administrator can type or compute (the file's SHA-256, a ticket number).
pub fn valid_idempotency_key(key: &str) -> bool {
    (1..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// What one chunk takes from a window of the file read at the job's offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// Whole lines: `text` holds `lines` of them (bad UTF-8 lines blanked and listed in `not_text`), and
    /// `consumed` bytes of the window are done.
    Lines {
        text: String,
        lines: u64,
        consumed: u64,
        not_text: Vec<u64>,
    },
    /// The window holds no line end and the file goes on: the line is longer than a chunk may read.
    LineTooLong { consumed: u64 },
    /// The window (the rest of a skipped line) ends at `consumed` bytes, the line with it when `ended`.
    Skipped { consumed: u64, ended: bool },
}

/// Cuts a window at whole lines: at most `max_lines`, and a last line without its line end only at the end of
/// the file (`at_end`). Line numbers in `not_text` are counted from 1 within the cut.
pub fn cut(window: &[u8], at_end: bool, skipping: bool, max_lines: usize) -> Cut {
    if skipping {
        return match window.iter().position(|&b| b == b'\n') {
            Some(end) => Cut::Skipped {
                consumed: end as u64 + 1,
                ended: true,
            },
            None => Cut::Skipped {
                consumed: window.len() as u64,
                ended: at_end,
            },
        };
    }
    let mut text = String::new();
    let mut lines = 0u64;
    let mut consumed = 0usize;
    let mut not_text = Vec::new();
    let mut rest = window;
    while lines < max_lines as u64 && !rest.is_empty() {
        let (line, taken) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], end + 1),
            None if at_end => (rest, rest.len()),
            None => break,
        };
        lines += 1;
        match std::str::from_utf8(line) {
            Ok(line) => text.push_str(line),
            Err(_) => not_text.push(lines),
        }
        text.push('\n');
        consumed += taken;
        rest = &rest[taken..];
    }
    if lines == 0 && !at_end {
        return Cut::LineTooLong {
            consumed: window.len() as u64,
        };
    }
    Cut::Lines {
        text,
        lines,
        consumed: consumed as u64,
        not_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_cut_at_whole_lines() {
        let window = b"{\"a\":1}\n{\"b\":2}\n{\"c\":";
        assert_eq!(
            cut(window, false, false, 10),
            Cut::Lines {
                text: "{\"a\":1}\n{\"b\":2}\n".into(),
                lines: 2,
                consumed: 16,
                not_text: vec![]
            }
        );
        // At the end of the file the last line needs no line end.
        assert!(matches!(
            cut(window, true, false, 10),
            Cut::Lines {
                lines: 3,
                consumed: 21,
                ..
            }
        ));
        // At most max_lines.
        assert!(matches!(
            cut(window, false, false, 1),
            Cut::Lines {
                lines: 1,
                consumed: 8,
                ..
            }
        ));
        // A blank line counts as a line (the numbers are the file's).
        assert!(matches!(
            cut(b"\n\nx\n", false, false, 10),
            Cut::Lines {
                lines: 3,
                consumed: 4,
                ..
            }
        ));
    }

    #[test]
    fn a_line_longer_than_a_window_is_refused_and_skipped() {
        assert_eq!(cut(b"xxxx", false, false, 10), Cut::LineTooLong { consumed: 4 });
        assert_eq!(
            cut(b"xx\nnext", false, true, 10),
            Cut::Skipped {
                consumed: 3,
                ended: true
            }
        );
        assert_eq!(
            cut(b"xxxx", false, true, 10),
            Cut::Skipped {
                consumed: 4,
                ended: false
            }
        );
    }

    #[test]
    fn a_line_that_is_not_utf8_is_blanked_and_named() {
        let Cut::Lines { text, not_text, .. } = cut(b"ok\n\xff\xfe\nok\n", false, false, 10) else {
            panic!("lines");
        };
        assert_eq!(text, "ok\n\nok\n");
        assert_eq!(not_text, vec![2]);
    }

    #[test]
    fn the_job_id_follows_the_key_and_names_its_file() {
        let id = job_id("sha256:abc");
        assert_eq!(id, job_id("sha256:abc"));
        assert_ne!(id, job_id("sha256:abd"));
        assert_eq!(job_of_file(&file_key(&id)), Some(id.as_str()));
        assert_eq!(job_of_file(&format!("imports/{id}/rejected/000000000001.json")), None);
        assert_eq!(job_of_file("photos/x.jsonl"), None);
        assert!(valid_idempotency_key("3b5d5c37-0f2e"));
        assert!(!valid_idempotency_key(""));
        assert!(!valid_idempotency_key("a b"));
    }
}
