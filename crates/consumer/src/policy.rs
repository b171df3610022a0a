//! The error policy: one place that decides what the consumer does after a write failed, by the
//! error's class ([`ErrorClass`]), so every path (a whole batch, a bisected half, a single change)
//! acts the same way.

use std::time::Duration;

use dualsync_writer::ErrorClass;
use tokio::time::Instant;

/// How long to wait before the first retry; it doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);
/// The longest wait between retries.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// What to do after a failed write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Wait this long, then write the same changes again.
    Retry(Duration),
    /// The changes cannot be written as they are: isolate the refused ones and dead-letter them
    /// (or, without a dead-letter topic, stop the consumer).
    GiveUp,
}

/// The retry state of one write: the backoff, and how long a change may wait for its parent.
#[derive(Debug)]
pub(crate) struct Retries {
    delay: Duration,
    parents_deadline: Instant,
}

impl Retries {
    /// A new write, whose changes may wait `wait_for_parents` for the rows they reference.
    pub(crate) fn new(wait_for_parents: Duration) -> Retries {
        Retries { delay: FIRST_RETRY_DELAY, parents_deadline: Instant::now() + wait_for_parents }
    }

    /// The next step after a failure of `class`:
    /// - transient (the environment): retry with backoff, forever; nothing is lost by waiting;
    /// - setup (a missing table, column, key or privilege): retry with backoff, forever, never
    ///   dead-letter — every change of the table would fail the same way until an operator fixes
    ///   the target, and each passes after the fix; the caller reports it in `/readyz`;
    /// - waiting for a parent: retry until the wait is over, then give up;
    /// - data: give up at once (retrying fails the same way).
    pub(crate) fn next_step(&mut self, class: ErrorClass) -> Step {
        let delay = self.delay;
        let retry = match class {
            ErrorClass::Transient | ErrorClass::Setup => true,
            ErrorClass::WaitingForParent => Instant::now() + delay <= self.parents_deadline,
            ErrorClass::Data => false,
        };
        if !retry {
            return Step::GiveUp;
        }
        self.delay = (delay * 2).min(MAX_RETRY_DELAY);
        Step::Retry(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_class_has_its_step() {
        let mut retries = Retries::new(Duration::from_secs(1));
        assert_eq!(retries.next_step(ErrorClass::Data), Step::GiveUp);
        // Backoff doubles, up to the cap, for transient and setup failures alike, forever.
        let delays: Vec<Step> = (0..10).map(|_| retries.next_step(ErrorClass::Setup)).collect();
        assert_eq!(delays[0], Step::Retry(FIRST_RETRY_DELAY));
        assert_eq!(delays[1], Step::Retry(FIRST_RETRY_DELAY * 2));
        assert_eq!(delays[9], Step::Retry(MAX_RETRY_DELAY));
        assert_eq!(retries.next_step(ErrorClass::Transient), Step::Retry(MAX_RETRY_DELAY));
        // A missing parent is waited for until the deadline only.
        let mut retries = Retries::new(Duration::from_secs(1));
        assert_eq!(retries.next_step(ErrorClass::WaitingForParent), Step::Retry(FIRST_RETRY_DELAY));
        tokio::time::advance(Duration::from_millis(900)).await;
        assert_eq!(retries.next_step(ErrorClass::WaitingForParent), Step::GiveUp);
    }
}
