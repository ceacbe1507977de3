//! Per-token behavioural state, kept in a sharded concurrent map keyed by a compact token key.
//!
//! A token's state is its first and last use plus one section per rule (each rule module documents
//! what its section keeps and how large it is). Alerts still inside their suppression window are
//! kept here too, so a token's suppression travels with its state.

use tokenwatch_schemas::Alert;
use xxhash_rust::xxh3::xxh3_64;

use crate::rules::burst::RateState;
use crate::rules::impossible_travel::TravelState;
use crate::rules::scope_escalation::ScopeState;
use crate::rules::token_reuse::ReuseState;

/// The compact key of a token: 64 bits of XXH3 of its id (stable across runs and machines; a
/// collision between two of 10 million tokens has a probability of about 3·10⁻⁶).
pub fn token_key(token_id: &str) -> u64 {
    xxh3_64(token_id.as_bytes())
}

/// What tokenwatch remembers about one token.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenState {
    /// Event time of the token's first use.
    pub first_seen_us: i64,
    /// Event time of the token's latest use.
    pub last_seen_us: i64,
    /// Uses seen.
    pub events: u64,
    /// `impossible_travel`'s section.
    pub travel: TravelState,
    /// `token_reuse`'s section.
    pub reuse: ReuseState,
    /// `burst`'s section.
    pub rate: RateState,
    /// `scope_escalation`'s section.
    pub scopes: ScopeState,
    /// Alerts whose suppression window is still open (usually none).
    pub(crate) open_alerts: Vec<OpenAlert>,
}

/// An alert inside its suppression window: later firings of the same rule on the same token add to
/// its count instead of raising new alerts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct OpenAlert {
    /// Index of the rule in the rule list.
    pub rule: usize,
    /// Event time at which the window closes.
    pub until_us: i64,
    /// Whether firings were added since the alert was last emitted.
    pub dirty: bool,
    /// The alert as last emitted (plus any additions).
    pub alert: Box<Alert>,
}

impl TokenState {
    /// A token first seen at `time_us`.
    pub fn new(time_us: i64) -> Self {
        TokenState { first_seen_us: time_us, last_seen_us: time_us, ..TokenState::default() }
    }
}
