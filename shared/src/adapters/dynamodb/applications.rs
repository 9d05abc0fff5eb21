//! The applications context's ports on DynamoDB: applications (`APP#<id>`) with their open-application lock,
//! photo claims (`PHOTO#<sha256>`), and the photo review queue (`REVIEW#<shard>` in the `queue` index).

use super::{decode, encode, s, unavailable, with_expiry, DynamoRecords, Item};
use crate::applications::application::{Application, ApplicationState};
use crate::applications::ports::{ApplicationStore, PhotoClaim, PhotoClaims};
use crate::expiry;
use crate::issuance::outbox;
use crate::kernel::notice::PendingNotice;
use crate::kernel::queue::{queue_partition, queue_position, Page, QueueQuery, ReviewQueue};
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

const REVIEW_QUEUE: &str = "REVIEW";

/// The open-application lock's partition: apart from the licence, so that the functions that take and release
/// it may never write the licence (least privilege by partition, `template.yaml`).
fn open_application_pk(number: &str) -> String {
    format!("OPENAPP#{number}")
}

fn app_pk(id: &str) -> String {
    format!("APP#{id}")
}

/// The application's item, with its place in the review queue while it
/// waits for review, in the expiry index while the applicant must act, and
/// in the issuance outbox while it is approved and not yet issued.
pub(super) fn application_item(application: &Application) -> Result<Item, StoreError> {
    let mut item = encode(application, app_pk(&application.id), "APP".into(), "application")?;
    if let (ApplicationState::AwaitingReview, Some(photo)) = (application.state, application.photo.as_ref()) {
        // Reported overdue, it leaves the partitions the expiry job's next pass reads.
        let reported = application.overdue_flagged_at.is_some();
        item.insert(
            "queuePk".into(),
            s(queue_partition(REVIEW_QUEUE, &application.id, reported)),
        );
        item.insert("queueSk".into(), s(queue_position(photo.due_at, &application.id)));
    }
    // The outbox (`issue` index): the approval's own write says that a licence is owed.
    if let Some(entry) = outbox::issuance_entry(application) {
        item.insert("issuePk".into(), s(entry.bucket));
        item.insert("issueSk".into(), s(entry.key));
    }
    Ok(with_expiry(item, expiry::application_entry(application)))
}

impl DynamoRecords {
    /// Deletes the application's open-application lock: only our own; a
    /// missing one is already released.
    pub(super) fn release_slot(&self, application: &Application) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(open_application_pk(&application.licence_number)))
            .key("sk", s("OPEN_APPLICATION"))
            .condition_expression("attribute_not_exists(pk) OR applicationId = :id")
            .expression_attribute_values(":id", s(&application.id))
            .build()
            .map_err(|e| unavailable("Delete", e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

#[async_trait]
impl ApplicationStore for DynamoRecords {
    async fn create_application(&self, application: &Application) -> Result<(), StoreError> {
        let app_item = application_item(application)?;
        let mut items = Vec::with_capacity(2);
        if application.state.is_open() {
            let mut slot = Item::new();
            slot.insert("pk".into(), s(open_application_pk(&application.licence_number)));
            slot.insert("sk".into(), s("OPEN_APPLICATION"));
            slot.insert("kind".into(), s("open-application"));
            slot.insert("applicationId".into(), s(&application.id));
            items.push(self.put(slot, "attribute_not_exists(pk)")?);
        }
        items.push(self.put(app_item, "attribute_not_exists(pk)")?);
        let slot_index_taken = application.state.is_open();
        let outcome = self
            .transact(items, |index| {
                if slot_index_taken && index == 0 {
                    Some(StoreError::OpenApplicationExists {
                        existing: String::new(),
                    })
                } else {
                    Some(StoreError::AlreadyExists)
                }
            })
            .await;
        match outcome {
            Err(StoreError::OpenApplicationExists { .. }) => {
                // Name the application that holds the slot, so the client can continue it.
                let slot = self
                    .get(open_application_pk(&application.licence_number), "OPEN_APPLICATION")
                    .await?;
                let existing = slot
                    .and_then(|i| i.get("applicationId").cloned())
                    .and_then(|v| v.as_s().ok().cloned())
                    .unwrap_or_default();
                Err(StoreError::OpenApplicationExists { existing })
            }
            other => other,
        }
    }

    async fn application(&self, id: &str) -> Result<Option<Application>, StoreError> {
        self.get(app_pk(id), "APP").await?.map(decode).transpose()
    }

    async fn update_application_noting(
        &self,
        application: &Application,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError> {
        let item = application_item(application)?;
        let mut items = vec![self.versioned_put(item, expected_version)?];
        if !application.state.is_open() {
            items.push(self.release_slot(application)?);
        }
        items.extend(self.notice_puts(notices)?);
        self.transact(items, |_| None).await
    }
}

#[async_trait]
impl PhotoClaims for DynamoRecords {
    async fn claim_photo(&self, sha256: &str, holder_id: &str, application_id: &str) -> Result<PhotoClaim, StoreError> {
        let item = Item::from([
            ("pk".to_string(), s(format!("PHOTO#{sha256}"))),
            ("sk".to_string(), s("PHOTO")),
            ("kind".to_string(), s("photo-claim")),
            ("holderId".to_string(), s(holder_id)),
            ("applicationId".to_string(), s(application_id)),
        ]);
        let condition = "attribute_not_exists(pk) OR holderId = :holder";
        Ok(
            if self
                .put_when(item, condition, &[], vec![(":holder", s(holder_id))])
                .await?
            {
                PhotoClaim::Granted
            } else {
                PhotoClaim::HeldByAnotherHolder
            },
        )
    }
}

#[async_trait]
impl ReviewQueue<Application> for DynamoRecords {
    async fn waiting(&self, query: &QueueQuery) -> Result<Page<Application>, StoreError> {
        let (items, next) = self.queue_page(REVIEW_QUEUE, query).await?;
        Ok(Page { items, next })
    }
}
