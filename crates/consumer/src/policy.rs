//! The error policy: one place that decides what the consumer does after a write failed, by the
//! error's class ([`ErrorClass`]), so every path (a whole batch, a bisected half, a single change,
//! a parked change retried) acts the same way.

use std::time::Duration;

use dualsync_writer::ErrorClass;

/// How long to wait before the first retry; it doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);
/// The longest wait between retries.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// What to do after a failed write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Wait this long, then write the same changes again.
    Retry(Duration),
    /// The changes cannot be written as they are: isolate the refused ones, park those missing
    /// their parent, dead-letter the others (or, without a dead-letter topic, stop the consumer).
    GiveUp,
}

/// The retry state of one write: its backoff.
#[derive(Debug)]
pub(crate) struct Retries {
    delay: Duration,
}

impl Retries {
    /// A new write.
    pub(crate) fn new() -> Retries {
        Retries { delay: FIRST_RETRY_DELAY }
    }

    /// The next step after a failure of `class`:
    /// - transient (the environment): retry with backoff, forever; nothing is lost by waiting;
    /// - setup (a missing table, column, key or privilege): retry with backoff, forever, never
    ///   dead-letter — every change of the table would fail the same way until an operator fixes
    ///   the target, and each passes after the fix; the caller reports it in `/readyz`;
    /// - waiting for a parent: give up on the batch at once, so the refused child is parked (see
    ///   [`parked_step`]) instead of holding back the changes around it;
    /// - data: give up at once (retrying fails the same way).
    pub(crate) fn next_step(&mut self, class: ErrorClass) -> Step {
        match class {
            ErrorClass::Transient | ErrorClass::Setup => {
                let delay = self.delay;
                self.delay = (delay * 2).min(MAX_RETRY_DELAY);
                Step::Retry(delay)
            }
            ErrorClass::WaitingForParent | ErrorClass::Data => Step::GiveUp,
        }
    }
}

/// What to do with a parked change whose retry failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParkedStep {
    /// Keep it parked and try it again at the next round.
    Wait,
    /// Keep it, and try no more parked changes this round (the target is unwell).
    Pause,
    /// Its parent did not come in time, or its data is refused: dead-letter it.
    DeadLetter,
}

/// The step for a parked change that failed with `class` after waiting `waited` of `limit`
/// (`retry.foreign_key_seconds`).
pub(crate) fn parked_step(class: ErrorClass, waited: Duration, limit: Duration) -> ParkedStep {
    match class {
        ErrorClass::WaitingForParent if waited < limit => ParkedStep::Wait,
        ErrorClass::WaitingForParent | ErrorClass::Data => ParkedStep::DeadLetter,
        ErrorClass::Transient | ErrorClass::Setup => ParkedStep::Pause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_class_has_its_step() {
        let mut retries = Retries::new();
        assert_eq!(retries.next_step(ErrorClass::Data), Step::GiveUp);
        assert_eq!(retries.next_step(ErrorClass::WaitingForParent), Step::GiveUp, "parked, not waited for");
        // Backoff doubles, up to the cap, for transient and setup failures alike, forever.
        let delays: Vec<Step> = (0..10).map(|_| retries.next_step(ErrorClass::Setup)).collect();
        assert_eq!(delays[0], Step::Retry(FIRST_RETRY_DELAY));
        assert_eq!(delays[1], Step::Retry(FIRST_RETRY_DELAY * 2));
        assert_eq!(delays[9], Step::Retry(MAX_RETRY_DELAY));
        assert_eq!(retries.next_step(ErrorClass::Transient), Step::Retry(MAX_RETRY_DELAY));
    }

    #[test]
    fn a_parked_change_waits_for_its_parent_until_the_limit() {
        let (second, limit) = (Duration::from_secs(1), Duration::from_secs(600));
        assert_eq!(parked_step(ErrorClass::WaitingForParent, second, limit), ParkedStep::Wait);
        assert_eq!(parked_step(ErrorClass::WaitingForParent, limit, limit), ParkedStep::DeadLetter);
        assert_eq!(parked_step(ErrorClass::Data, second, limit), ParkedStep::DeadLetter);
        assert_eq!(parked_step(ErrorClass::Transient, limit, limit), ParkedStep::Pause);
        assert_eq!(parked_step(ErrorClass::Setup, second, limit), ParkedStep::Pause);
    }
}
