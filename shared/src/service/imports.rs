//! Large register imports (issue 13 item 5): an administrator starts a job and uploads the register file to S3;
//! the job imports it in chunks, each committed after its lines are written, so a crash replays one chunk.

use super::register::{parse_register_lines, prepare_register_photos};
use super::{authorise, InputError, ServiceError, Services};
use crate::applications::ports::UploadForm;
use crate::kernel::access::Action;
use crate::kernel::caller::Caller;
use crate::kernel::store::StoreError;
use crate::register::import_job::{self, cut, Cut, ImportJob, ImportState, CHUNK_BYTES, CHUNK_LINES, MAX_FILE_BYTES};
use crate::register::ports::{FileStoreError, RegisterFiles};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How long an upload form is valid: a 1 GiB file at a modest 5 MB/s needs under four minutes.
pub const UPLOAD_FORM_LIFETIME: Duration = Duration::minutes(30);
/// How long after its form expired a job without a file is given up (the S3 event may lag the upload).
pub const UPLOAD_GRACE: Duration = Duration::minutes(30);

/// `POST /admin/imports`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartImport {
    /// The same key is the same job: the file's SHA-256 (`sha256sum`) or a ticket number.
    pub idempotency_key: String,
}

/// A job as the administrator sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportJobView {
    #[serde(flatten)]
    pub job: ImportJob,
    /// Where every refused line is listed, one JSON object a chunk, when any was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_report: Option<String>,
}

impl From<ImportJob> for ImportJobView {
    fn from(job: ImportJob) -> Self {
        ImportJobView {
            rejected_report: (job.rejected > 0).then(|| job.report_prefix()),
            job,
        }
    }
}

/// The answer to starting a job: the job, and while its file has not arrived, the form to upload it with.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportStarted {
    /// Whether this call created the job (false: the key named an existing one).
    pub created: bool,
    pub job: ImportJobView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadForm>,
    /// The largest file the form accepts.
    pub max_bytes: u64,
}

/// One report object: the refused lines of one chunk.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ChunkReport<'a> {
    job: &'a str,
    first_line: u64,
    last_line: u64,
    rejected: &'a [InputError],
}

/// What a run of the import jobs did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRunReport {
    pub jobs: usize,
    pub chunks: u64,
    pub finished: Vec<String>,
    /// Whether a job still has chunks to go (the run stopped for time).
    pub more: bool,
}

fn file_error(e: FileStoreError) -> ServiceError {
    ServiceError::Unavailable(e.to_string())
}

impl Services {
    fn register_files(&self) -> Result<&dyn RegisterFiles, ServiceError> {
        self.register_files
            .as_deref()
            .ok_or_else(|| ServiceError::Unavailable("no register file store is configured for this function".into()))
    }

    /// `POST /admin/imports`: the job for this key (created once), and a form to upload its file while it has
    /// none. Asking again for a job whose file arrived gives no form: a second upload is refused.
    pub async fn start_import(&self, caller: &Caller, request: StartImport) -> Result<ImportStarted, ServiceError> {
        authorise(caller, Action::ImportLicences)?;
        if !import_job::valid_idempotency_key(&request.idempotency_key) {
            return Err(ServiceError::Invalid {
                detail: "The idempotency key is not valid.".into(),
                errors: vec![InputError {
                    line: None,
                    field: "idempotencyKey".into(),
                    message: "1 to 128 letters, digits and - _ . : (the file's SHA-256 will do)".into(),
                }],
            });
        }
        let files = self.register_files()?;
        let now = self.now();
        let fresh = ImportJob::new(
            &request.idempotency_key,
            caller.id.clone(),
            now,
            now + UPLOAD_FORM_LIFETIME,
        );
        let (job, created) = match self.records.create_import_job(&fresh).await {
            Ok(()) => (fresh, true),
            Err(StoreError::AlreadyExists) => {
                let job = self
                    .records
                    .import_job(&fresh.id)
                    .await?
                    .ok_or(ServiceError::Conflict)?;
                (job, false)
            }
            Err(e) => return Err(e.into()),
        };
        if job.state != ImportState::AwaitingUpload {
            return Err(ServiceError::ImportHasFile {
                id: job.id.clone(),
                state: job.state,
            });
        }
        // A repeated start while the file is awaited gets a form again, valid as long as the first.
        let expires_at = job.upload_expires_at.max(now + Duration::minutes(1));
        let upload = files
            .file_upload_form(&job.file_key, MAX_FILE_BYTES, expires_at)
            .await
            .map_err(file_error)?;
        if created {
            tracing::info!(by = %caller.id, job = %job.id, "import job started");
        }
        Ok(ImportStarted {
            created,
            job: job.into(),
            upload: Some(upload),
            max_bytes: MAX_FILE_BYTES,
        })
    }

    /// `GET /admin/imports/{id}`: where the job stands, and its report once finished.
    pub async fn import_status(&self, caller: &Caller, id: &str) -> Result<ImportJobView, ServiceError> {
        authorise(caller, Action::ReadRegister)?;
        let job = self
            .records
            .import_job(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "import job",
                id: id.into(),
            })?;
        Ok(job.into())
    }

    /// S3's `ObjectCreated` for `imports/<id>.jsonl`: the job starts on its file and runs until `stop`. An
    /// object for a job that already has its file (a second upload) is not imported.
    pub async fn import_file_arrived(&self, key: &str, stop: Option<Instant>) -> Result<ImportRunReport, ServiceError> {
        let Some(id) = import_job::job_of_file(key) else {
            tracing::info!("an object that is no import file; ignored");
            return Ok(ImportRunReport::default());
        };
        let Some(job) = self.records.import_job(id).await? else {
            tracing::warn!(job = %id, "an import file for no job; ignored");
            return Ok(ImportRunReport::default());
        };
        if job.state != ImportState::AwaitingUpload {
            tracing::warn!(job = %id, state = ?job.state, "a second upload to an import job; not imported");
        }
        let mut report = ImportRunReport {
            jobs: 1,
            ..ImportRunReport::default()
        };
        self.drive_import(job, stop, &mut report).await?;
        Ok(report)
    }

    /// Every job with work left, each until `stop`: the five-minute sweep re-drives a job whose run ended (a
    /// crash, a timeout) and starts one whose S3 event was lost. The local server's `POST /_dev/jobs/imports`.
    pub async fn run_imports(&self, stop: Option<Instant>) -> Result<ImportRunReport, ServiceError> {
        let mut report = ImportRunReport::default();
        let mut first_failure = None;
        for id in self.records.pending_import_jobs().await? {
            if stop.is_some_and(|s| Instant::now() >= s) {
                report.more = true;
                break;
            }
            // One job's failure does not hold the others back; the run still fails at the end, so that the
            // invocation is retried and counted.
            let driven = match self.records.import_job(&id).await {
                Ok(Some(job)) => {
                    report.jobs += 1;
                    self.drive_import(job, stop, &mut report).await
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e.into()),
            };
            if let Err(e) = driven {
                tracing::warn!(job = %id, error = %e, "import job run failed; the next sweep resumes it");
                first_failure.get_or_insert(e);
            }
        }
        match first_failure {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Starts the job on its file if it arrived, then imports chunks until the file is done or `stop`.
    async fn drive_import(
        &self,
        mut job: ImportJob,
        stop: Option<Instant>,
        report: &mut ImportRunReport,
    ) -> Result<(), ServiceError> {
        if job.state == ImportState::AwaitingUpload {
            match self.start_on_file(&job).await? {
                Some(started) => job = started,
                None => return Ok(()),
            }
        }
        while job.state == ImportState::Running {
            if stop.is_some_and(|s| Instant::now() >= s) {
                report.more = true;
                return Ok(());
            }
            job = match self.import_chunk(&job).await {
                Ok(next) => {
                    report.chunks += 1;
                    next
                }
                // Another run committed this chunk first (the event and the sweep together): go on from its state.
                Err(ServiceError::Conflict) => self.records.import_job(&job.id).await?.ok_or(ServiceError::Conflict)?,
                Err(e) => return Err(e),
            };
        }
        if !job.is_pending() {
            report.finished.push(job.id.clone());
        }
        Ok(())
    }

    /// The job's file, if it arrived, fixed by its tag: the job is then running. A job whose form expired long
    /// ago without a file fails.
    async fn start_on_file(&self, job: &ImportJob) -> Result<Option<ImportJob>, ServiceError> {
        let stored = self
            .register_files()?
            .stored_file(&job.file_key)
            .await
            .map_err(file_error)?;
        let mut next = job.clone();
        match stored {
            Some(file) => {
                next.state = ImportState::Running;
                next.file_size = Some(file.size);
                next.file_tag = Some(file.tag);
            }
            None if self.now() > job.upload_expires_at + UPLOAD_GRACE => {
                next.state = ImportState::Failed;
                next.failure = Some("No file was uploaded while the form was valid; start a new job.".into());
                next.finished_at = Some(self.now());
            }
            None => return Ok(None),
        }
        next.version = job.version + 1;
        match self.records.save_import_job(&next, job.version).await {
            Ok(()) => Ok(Some(next)),
            Err(StoreError::Conflict) => Ok(self.records.import_job(&job.id).await?),
            Err(e) => Err(e.into()),
        }
    }

    /// One chunk: read from the job's offset, cut at whole lines, write the good ones, list the refused ones,
    /// then commit the job's progress conditionally on its version. A crash before the commit replays the chunk,
    /// whose writes are then the same again (and identical licences are not written at all).
    async fn import_chunk(&self, job: &ImportJob) -> Result<ImportJob, ServiceError> {
        let files = self.register_files()?;
        let (Some(size), Some(tag)) = (job.file_size, job.file_tag.as_deref()) else {
            return Err(ServiceError::Unavailable("a running import job has no file".into()));
        };
        let mut next = job.clone();
        next.version = job.version + 1;
        next.chunks += 1;
        let window = match files
            .read_file_range(
                &job.file_key,
                tag,
                job.offset,
                CHUNK_BYTES.min(size - job.offset.min(size)),
            )
            .await
        {
            Ok(window) => window,
            Err(FileStoreError::Replaced(_) | FileStoreError::NotFound(_)) => {
                next.state = ImportState::Failed;
                next.failure = Some(format!(
                    "The file was replaced or removed while it was imported; lines 1 to {} were read. Start a new \
                     job for the new file.",
                    job.lines_read
                ));
                next.finished_at = Some(self.now());
                self.records.save_import_job(&next, job.version).await?;
                tracing::warn!(job = %job.id, "import file replaced during the import");
                return Ok(next);
            }
            Err(e) => return Err(file_error(e)),
        };
        let at_end = job.offset + window.len() as u64 >= size;
        let first_line = job.lines_read + 1;
        let mut rejected = Vec::new();
        match cut(&window, at_end, job.skipping_line, CHUNK_LINES) {
            Cut::Skipped { consumed, ended } => {
                next.offset += consumed;
                next.skipping_line = !ended;
            }
            Cut::LineTooLong { consumed } => {
                rejected.push(InputError {
                    line: Some(first_line as usize),
                    field: "(line)".into(),
                    message: format!("longer than the {CHUNK_BYTES} bytes a line may have"),
                });
                next.offset += consumed;
                next.lines_read += 1;
                next.skipping_line = true;
            }
            Cut::Lines {
                text,
                lines,
                consumed,
                not_text,
            } => {
                let parsed = parse_register_lines(&text, first_line as usize);
                rejected.extend(not_text.into_iter().map(|n| InputError {
                    line: Some((first_line + n - 1) as usize),
                    field: "(line)".into(),
                    message: "not UTF-8 text".into(),
                }));
                rejected.extend(parsed.errors);
                let (licences, photo_errors, portraits) = prepare_register_photos(parsed.records, &self.photo_rules);
                rejected.extend(photo_errors);
                let good = licences.len() as u64;
                self.write_register_lines(licences, &portraits).await?;
                next.imported += good;
                next.offset += consumed;
                next.lines_read += lines;
            }
        }
        rejected.sort_by_key(|e| e.line);
        if !rejected.is_empty() {
            let refused: std::collections::BTreeSet<_> = rejected.iter().filter_map(|e| e.line).collect();
            next.rejected += refused.len() as u64;
            next.list_rejections(&rejected);
            let report = ChunkReport {
                job: &job.id,
                first_line,
                last_line: next.lines_read,
                rejected: &rejected,
            };
            let json =
                serde_json::to_vec(&report).map_err(|e| ServiceError::Unavailable(format!("the chunk report: {e}")))?;
            files
                .put_report(&job.report_key(first_line), &json)
                .await
                .map_err(file_error)?;
        }
        if next.offset >= size && !next.skipping_line {
            next.state = ImportState::Finished;
            next.finished_at = Some(self.now());
        }
        self.records.save_import_job(&next, job.version).await?;
        if next.state == ImportState::Finished {
            tracing::info!(
                job = %job.id,
                imported = next.imported,
                rejected = next.rejected,
                "import job finished"
            );
        }
        Ok(next)
    }
}
