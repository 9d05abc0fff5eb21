//! Versioned (optimistic-lock) updates: a record is read, changed, and written on condition that its version
//! is still the one read; a write that lost the race reads again, a few times.

use super::store::StoreError;
use std::future::Future;

/// The version of a record the product ships (the rollout plan's waves and cities, the truck rules) while it is
/// not stored: what seeding used to write. An administrator's first change of it is written on condition that it
/// is still not stored or still at this version, so stored and shipped records answer alike.
pub const SHIPPED_VERSION: u64 = 1;

/// How many times a use case reads, changes and writes a record before it gives up.
pub const ATTEMPTS: usize = 3;

/// Whether an error says that the record changed since it was read.
pub trait Conflicting {
    fn is_conflict(&self) -> bool;
}

impl Conflicting for StoreError {
    fn is_conflict(&self) -> bool {
        *self == StoreError::Conflict
    }
}

/// Runs `attempt` (a read, a change and a conditional write) until it does
/// not lose the race, at most `attempts` times; the last conflict when every
/// attempt lost.
pub async fn retry_on_conflict<T, E, F, Fut>(attempts: usize, mut attempt: F) -> Result<T, E>
where
    E: Conflicting,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut outcome = attempt().await;
    for _ in 1..attempts {
        match &outcome {
            Err(e) if e.is_conflict() => outcome = attempt().await,
            _ => break,
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn retries_a_conflict_and_nothing_else() {
        let calls = Cell::new(0);
        let lost_twice = retry_on_conflict(ATTEMPTS, || {
            calls.set(calls.get() + 1);
            let call = calls.get();
            async move {
                if call < 3 {
                    Err(StoreError::Conflict)
                } else {
                    Ok(call)
                }
            }
        })
        .await;
        assert_eq!(lost_twice, Ok(3));
        calls.set(0);
        let always = retry_on_conflict(ATTEMPTS, || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(StoreError::Conflict) }
        })
        .await;
        assert_eq!((always, calls.get()), (Err(StoreError::Conflict), ATTEMPTS));
        calls.set(0);
        let other = retry_on_conflict(ATTEMPTS, || {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(StoreError::AlreadyExists) }
        })
        .await;
        assert_eq!((other, calls.get()), (Err(StoreError::AlreadyExists), 1));
    }
}
