//! One context per function: the shared `Services` plus exactly the ports that function's use cases need, held
//! as plain values, so that a use case needing a port cannot be called where that port was not wired.
//!
//! The use cases that need no port beyond the records, the clock and the liveness service are methods of
//! `Services` itself, reached through every context (each dereferences to what it holds). The ones that need a
//! port are methods of the smallest context holding it: `Signing` (the signer) is a part the contexts that sign
//! hold, so that signing, refreshing a document and publishing the status lists are written once.
//!
//! What this guarantees is checked at compile time. With its context, a use case compiles:
//!
//! ```no_run
//! async fn issue(issuing: &shared::service::Issuing, sweep: &shared::service::Expiring) {
//!     let _ = issuing.issue("an application").await;
//!     let _ = sweep.sweep_approvals().await;
//! }
//! ```
//!
//! Without the port it needs, it does not (the services alone hold no signer, photo store or issuer):
//!
//! ```compile_fail,E0599
//! async fn issue(services: &shared::service::Services) {
//!     let _ = services.issue("an application").await;
//! }
//! ```
//!
//! ```compile_fail,E0599
//! async fn photo(services: &shared::service::Services) {
//!     let _ = services.photo_arrived("photos/an-application/an-upload").await;
//! }
//! ```
//!
//! ```compile_fail,E0599
//! async fn sweep(services: &shared::service::Services) {
//!     let _ = services.sweep_approvals().await;
//! }
//! ```
//!
//! ```compile_fail,E0599
//! // Showing signs show codes but hands nothing to the issuer.
//! async fn sweep(showing: &shared::service::Showing) {
//!     let _ = showing.sweep_approvals().await;
//! }
//! ```

use super::Services;
use crate::applications::ports::{Issuer, PhotoStore};
use crate::credential::pages::PageRenderer;
use crate::kernel::metrics::Metrics;
use crate::kernel::notice::{NoticeOutbox, Notifier, PendingNotice};
use crate::kernel::signing::Signer;
use crate::register::ports::RegisterFiles;
use std::sync::Arc;

/// Where notices to holders and fleets go (EventBridge in AWS, a list in memory locally).
#[derive(Clone)]
pub struct Notices(pub Arc<dyn Notifier>);

impl Notices {
    /// Delivers notices recorded with a change, and takes each delivered one out of `outbox`. One that fails
    /// stays pending: the sweep delivers it a few minutes on (under the same id, so a repeat is recognised).
    /// Whether every one was delivered.
    pub(crate) async fn deliver(&self, outbox: &dyn NoticeOutbox, notices: &[PendingNotice]) -> bool {
        let mut all = true;
        for notice in notices {
            if let Err(e) = self.0.notify(notice).await {
                tracing::warn!(notice = %notice.id, error = %e, "notice not delivered; the sweep delivers it");
                all = false;
                continue;
            }
            if let Err(e) = outbox.notice_delivered(notice).await {
                // Delivered but still pending: the sweep delivers it again, and the consumer drops the repeat.
                tracing::warn!(notice = %notice.id, error = %e, "delivered notice not cleared");
            }
        }
        all
    }
}

/// Dereferences a context to the part it builds on, so that the part's use cases are the context's too.
macro_rules! builds_on {
    ($context:ty, $field:ident: $part:ty) => {
        impl std::ops::Deref for $context {
            type Target = $part;
            fn deref(&self) -> &$part {
                &self.$field
            }
        }
    };
}

/// The signing part: the services and the signer of licence documents, show codes, status lists and
/// certificates (KMS in AWS). The key commands of the local tool use it alone.
#[derive(Clone)]
pub struct Signing {
    pub services: Services,
    pub signer: Arc<dyn Signer>,
}
builds_on!(Signing, services: Services);

impl Signing {
    pub fn new(services: Services, signer: Arc<dyn Signer>) -> Signing {
        Signing { services, signer }
    }
}

/// The apply function: applications opened and withdrawn, the real-person check against the photo on file
/// (R1, R2, R3, R12); an approval goes to the issuer.
#[derive(Clone)]
pub struct Applying {
    pub services: Services,
    pub photos: Arc<dyn PhotoStore>,
    pub issuer: Arc<dyn Issuer>,
}
builds_on!(Applying, services: Services);

/// The photo-upload function: upload forms for a new photo (R4).
#[derive(Clone)]
pub struct Uploading {
    pub services: Services,
    pub photos: Arc<dyn PhotoStore>,
}
builds_on!(Uploading, services: Services);

/// The photo-check function: the automatic checks when a photo lands (R5).
#[derive(Clone)]
pub struct PhotoChecking {
    pub services: Services,
    pub photos: Arc<dyn PhotoStore>,
}
builds_on!(PhotoChecking, services: Services);

/// The review function: the staff queue, one item with its photo, and decisions (R4, R15); an approval goes to
/// the issuer, a rejection is a notice.
#[derive(Clone)]
pub struct Reviewing {
    pub services: Services,
    pub photos: Arc<dyn PhotoStore>,
    pub issuer: Arc<dyn Issuer>,
    pub notices: Notices,
}
builds_on!(Reviewing, services: Services);

/// The issue function: an approved application's licence signed with its approved portrait, and the holder told.
#[derive(Clone)]
pub struct Issuing {
    pub signing: Signing,
    pub photos: Arc<dyn PhotoStore>,
    pub notices: Notices,
}
builds_on!(Issuing, signing: Signing);

/// The licence function: the holder's licence, show code and pages (R6, R8), a document near its end signed
/// again on the way.
#[derive(Clone)]
pub struct Showing {
    pub signing: Signing,
    /// Draws the PNG pages: the pages function in AWS, this process elsewhere.
    pub pages: Arc<dyn PageRenderer>,
}
builds_on!(Showing, signing: Signing);

/// The pass function: truck passes requested, signed, decided and shown (R13).
#[derive(Clone)]
pub struct PassDesk {
    pub signing: Signing,
    pub notices: Notices,
}
builds_on!(PassDesk, signing: Signing);

/// The admin function: the register imported and changed (its photos kept), large imports started (their files'
/// upload forms), the rollout switched, passes revoked; a change that ends an electronic licence or a pass is a
/// notice.
#[derive(Clone)]
pub struct Administering {
    pub services: Services,
    pub photos: Arc<dyn PhotoStore>,
    pub register_files: Arc<dyn RegisterFiles>,
    pub notices: Notices,
}
builds_on!(Administering, services: Services);

/// The expire function's sweep: approvals left without a licence handed to the issuer again, notices left
/// pending delivered again, and the large imports' jobs run on their register files (their photos kept).
#[derive(Clone)]
pub struct Expiring {
    pub services: Services,
    pub issuer: Arc<dyn Issuer>,
    pub notices: Notices,
    pub register_files: Arc<dyn RegisterFiles>,
    pub photos: Arc<dyn PhotoStore>,
}
builds_on!(Expiring, services: Services);

/// The refresh function: documents near their end signed again, the key check published as metrics, and the
/// status lists signed.
#[derive(Clone)]
pub struct Refreshing {
    pub signing: Signing,
    pub key_metrics: Arc<dyn Metrics>,
}
builds_on!(Refreshing, signing: Signing);

/// Every port at once, for the processes that run every function in one: the local server, the tests and the
/// capacity model. Each context is built from the services and the ports it needs.
#[derive(Clone)]
pub struct Ports {
    pub photos: Arc<dyn PhotoStore>,
    pub register_files: Arc<dyn RegisterFiles>,
    pub signer: Arc<dyn Signer>,
    pub issuer: Arc<dyn Issuer>,
    pub notifier: Arc<dyn Notifier>,
    pub key_metrics: Arc<dyn Metrics>,
    pub pages: Arc<dyn PageRenderer>,
}

impl Ports {
    fn notices(&self) -> Notices {
        Notices(self.notifier.clone())
    }

    pub fn signing(&self, services: &Services) -> Signing {
        Signing::new(services.clone(), self.signer.clone())
    }

    pub fn applying(&self, services: &Services) -> Applying {
        Applying {
            services: services.clone(),
            photos: self.photos.clone(),
            issuer: self.issuer.clone(),
        }
    }

    pub fn uploading(&self, services: &Services) -> Uploading {
        Uploading {
            services: services.clone(),
            photos: self.photos.clone(),
        }
    }

    pub fn photo_checking(&self, services: &Services) -> PhotoChecking {
        PhotoChecking {
            services: services.clone(),
            photos: self.photos.clone(),
        }
    }

    pub fn reviewing(&self, services: &Services) -> Reviewing {
        Reviewing {
            services: services.clone(),
            photos: self.photos.clone(),
            issuer: self.issuer.clone(),
            notices: self.notices(),
        }
    }

    pub fn issuing(&self, services: &Services) -> Issuing {
        Issuing {
            signing: self.signing(services),
            photos: self.photos.clone(),
            notices: self.notices(),
        }
    }

    pub fn showing(&self, services: &Services) -> Showing {
        Showing {
            signing: self.signing(services),
            pages: self.pages.clone(),
        }
    }

    pub fn pass_desk(&self, services: &Services) -> PassDesk {
        PassDesk {
            signing: self.signing(services),
            notices: self.notices(),
        }
    }

    pub fn administering(&self, services: &Services) -> Administering {
        Administering {
            services: services.clone(),
            photos: self.photos.clone(),
            register_files: self.register_files.clone(),
            notices: self.notices(),
        }
    }

    pub fn expiring(&self, services: &Services) -> Expiring {
        Expiring {
            services: services.clone(),
            issuer: self.issuer.clone(),
            notices: self.notices(),
            register_files: self.register_files.clone(),
            photos: self.photos.clone(),
        }
    }

    pub fn refreshing(&self, services: &Services) -> Refreshing {
        Refreshing {
            signing: self.signing(services),
            key_metrics: self.key_metrics.clone(),
        }
    }
}
