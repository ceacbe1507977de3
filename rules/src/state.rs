//! Per-token behavioural state, kept in a sharded concurrent map keyed by a compact token key.
//!
//! A token's state is its first and last use plus one section per rule (each rule module documents
//! what its section keeps and how large it is), the records of the recent uses the rules refer to
//! ([`UseRecord`]), and the rarely needed parts ([`Extra`]: alerts still inside their suppression
//! window, learned place pairs, overflow of the small inline sets).
//!
//! **Memory.** The map holds one pointer per token ([`TokenState`] boxes its [`TokenCore`]):
//! hashbrown keeps between 8/7 and 16/7 slots per entry, so every byte stored inline in the map
//! would cost up to 2.3 bytes. The core is one allocation of 192 bytes (184 asserted in a test) holding
//! everything a token with a handful of scopes and context values needs; a token whose three
//! recorded uses are one event (the usual case: its latest use is located, learnt and the first of
//! its minute) stores that event once. `tokenwatch bench` measures the resident memory per token.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::{Deref, DerefMut};

use tokenwatch_schemas::{Alert, Event};
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::rules::burst::RateState;
use crate::rules::impossible_travel::{TravelExtra, TravelState};
use crate::rules::scope_escalation::{ScopeExtra, ScopeState};
use crate::rules::token_reuse::{ReuseExtra, ReuseState, user_agent_family};

/// The compact key of a token: 64 bits of XXH3 of its id (stable across runs and machines; a
/// collision between two of 10 million tokens has a probability of about 3·10⁻⁶).
pub fn token_key(token_id: &str) -> u64 {
    xxh3_64(token_id.as_bytes())
}

/// The hasher of the rule engine's look-up tables of text keys (the inventory by token id, the
/// privileged actions): XXH3 of what is written, a few times cheaper than the standard SipHash on
/// short keys. Those tables are filled from the operator's files only, so their keys are not an
/// attacker's to choose.
#[derive(Debug, Default, Clone, Copy)]
pub struct TextHasher(u64);

impl std::hash::Hasher for TextHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxh3_64_with_seed(bytes, self.0);
    }

    /// The terminator `str` writes after its bytes, mixed in cheaply.
    fn write_u8(&mut self, byte: u8) {
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`TextHasher`]s.
pub type TextHash = std::hash::BuildHasherDefault<TextHasher>;

/// What tokenwatch remembers about one token: a [`TokenCore`], boxed so that the map holds a
/// pointer per token (see the module documentation). Dereferences to the core; its serde form is
/// the core's.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TokenState(Box<TokenCore>);

impl Deref for TokenState {
    type Target = TokenCore;

    fn deref(&self) -> &TokenCore {
        &self.0
    }
}

impl DerefMut for TokenState {
    fn deref_mut(&mut self) -> &mut TokenCore {
        &mut self.0
    }
}

impl TokenState {
    /// A token first seen at `time_us`.
    pub fn new(time_us: i64) -> Self {
        TokenState(Box::new(TokenCore { first_seen_us: time_us, last_seen_us: time_us, ..TokenCore::default() }))
    }
}

/// The fields of a token's state.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TokenCore {
    /// Event time of the token's first use.
    pub first_seen_us: i64,
    /// Event time of the token's latest use.
    pub last_seen_us: i64,
    /// Uses seen (saturating).
    pub events: u32,
    /// `impossible_travel`'s section.
    pub travel: TravelState,
    /// `token_reuse`'s section.
    pub reuse: ReuseState,
    /// `burst`'s section.
    pub rate: RateState,
    /// `scope_escalation`'s section.
    pub scopes: ScopeState,
    /// The use each [`UseSlot`] refers to.
    uses: Uses,
    /// What few tokens need (see [`Extra`]); allocated on first need.
    extra: Option<Box<Extra>>,
}

/// The parts of a token's state that few tokens need, allocated on first need: each rule's
/// overflow, the records of uses a rule still refers to after the token's latest use moved on, and
/// alerts inside their suppression window.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Extra {
    /// `impossible_travel`'s learned place pairs.
    pub travel: TravelExtra,
    /// `token_reuse`'s context sets beyond the inline capacity.
    pub reuse: ReuseExtra,
    /// `scope_escalation`'s history beyond the inline capacity and its fresh period.
    pub scopes: ScopeExtra,
    /// Per [`UseSlot`], the use it refers to when that is not the latest recorded one.
    uses: [Option<Box<UseRecord>>; UseSlot::COUNT],
    /// The latest recorded use when it does not fit inline in the core.
    latest: Option<Box<UseRecord>>,
    /// Alerts whose suppression window is still open.
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

impl TokenCore {
    /// The rarely needed parts, if the token has them.
    pub fn extra(&self) -> Option<&Extra> {
        self.extra.as_deref()
    }

    /// The rarely needed parts, allocated now if the token had none.
    pub fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Whether an alert of the token is inside its suppression window.
    pub fn has_open_alerts(&self) -> bool {
        self.extra.as_ref().is_some_and(|extra| !extra.open_alerts.is_empty())
    }

    pub(crate) fn open_alerts_mut(&mut self) -> &mut Vec<OpenAlert> {
        &mut self.extra_mut().open_alerts
    }

    /// Takes the open alerts out (none left).
    pub(crate) fn take_open_alerts(&mut self) -> Vec<OpenAlert> {
        self.extra.as_mut().map(|extra| std::mem::take(&mut extra.open_alerts)).unwrap_or_default()
    }

    /// The use `slot` refers to, as recorded when it was judged (the event being judged counts
    /// only from the next event on).
    pub fn recalled(&self, slot: UseSlot) -> Option<UseView<'_>> {
        if self.uses.pins & slot.bit() != 0 {
            return match self.uses.latest.len {
                0 => None,
                IN_EXTRA => self.extra.as_ref()?.latest.as_deref().map(UseRecord::view),
                len => Some(UseView { bytes: &self.uses.latest.bytes[..usize::from(len)] }),
            };
        }
        self.extra.as_ref()?.uses[slot as usize].as_deref().map(UseRecord::view)
    }

    /// The latest recorded use, taken out.
    fn take_latest(&mut self) -> Option<UseRecord> {
        let latest = std::mem::take(&mut self.uses.latest);
        match latest.len {
            0 => None,
            IN_EXTRA => self.extra.as_mut()?.latest.take().map(|record| *record),
            len => {
                let mut bytes = [0u8; INLINE_RECORD];
                bytes[..usize::from(len)].copy_from_slice(&latest.bytes[..usize::from(len)]);
                Some(UseRecord(Packed::Inline { len, bytes }))
            }
        }
    }

    /// Makes `slot` refer to the event being judged, once the rules are done with it.
    pub fn remember(&mut self, slot: UseSlot) {
        self.uses.pending |= slot.bit();
    }

    /// Records `event` for the slots that asked to remember it. The detection runner calls this
    /// once every rule has judged the event; so must anyone driving rules directly. Slots that
    /// still refer to the previous latest use keep it.
    pub fn commit_uses(&mut self, event: &Event) {
        let pending = std::mem::take(&mut self.uses.pending);
        if pending == 0 {
            return;
        }
        let kept = self.uses.pins & !pending;
        if kept != 0
            && let Some(previous) = self.take_latest()
        {
            let extra = self.extra.get_or_insert_with(Box::default);
            let mut previous = Some(previous);
            for slot in UseSlot::ALL {
                if kept & slot.bit() != 0 {
                    // Moved into the last slot that keeps it, cloned for the others (rare).
                    let last = kept & !((slot.bit() << 1) - 1) == 0;
                    let record = if last { previous.take() } else { previous.clone() };
                    extra.uses[slot as usize] = record.map(Box::new);
                }
            }
        }
        if let Some(extra) = self.extra.as_mut() {
            for slot in UseSlot::ALL {
                if pending & slot.bit() != 0 {
                    extra.uses[slot as usize] = None;
                }
            }
        }
        let fields = UseFieldsRef::of(event);
        let layout = fields.layout();
        if layout.len <= INLINE_RECORD {
            // Written in place: the usual case, on every event, allocates nothing.
            fields.write(&layout, &mut self.uses.latest.bytes[..layout.len]);
            self.uses.latest.len = layout.len as u8;
            if let Some(extra) = self.extra.as_mut() {
                extra.latest = None;
            }
        } else {
            self.uses.latest.len = IN_EXTRA;
            self.extra_mut().latest = Some(Box::new(UseRecord::pack(&fields)));
        }
        self.uses.pins = pending;
    }
}

/// A rule's reference to one recent use of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseSlot {
    /// `impossible_travel`: the last located use.
    Travel = 0,
    /// `token_reuse`: the last use from the usual context.
    Reuse = 1,
    /// `burst`: the first use of the current minute.
    Burst = 2,
}

impl UseSlot {
    const COUNT: usize = 3;
    const ALL: [UseSlot; UseSlot::COUNT] = [UseSlot::Travel, UseSlot::Reuse, UseSlot::Burst];

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The latest recorded use and which slots refer to it (64 bytes, no pointer: the core's
/// alignment-8 fields stay few).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Uses {
    latest: LatestUse,
    /// Slots referring to `latest` (bit [`UseSlot::bit`]).
    pins: u8,
    /// Slots that asked to remember the event being judged (empty between events).
    #[serde(skip)]
    pending: u8,
}

/// Bytes of a [`UseRecord`] kept inline (a typical record is 45 to 60 bytes).
const INLINE_RECORD: usize = 61;
/// [`LatestUse::len`] of a record kept in [`Extra::latest`].
const IN_EXTRA: u8 = u8::MAX;

/// The packed bytes of the latest recorded use: `len` bytes (0: none), or [`IN_EXTRA`]. Bytes past
/// `len` are left over from earlier records and mean nothing.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(into = "Option<LatestForm>", from = "Option<LatestForm>")]
struct LatestUse {
    len: u8,
    bytes: [u8; INLINE_RECORD],
}

impl PartialEq for LatestUse {
    fn eq(&self, other: &Self) -> bool {
        fn used(latest: &LatestUse) -> &[u8] {
            latest.bytes.get(..usize::from(latest.len)).unwrap_or_default()
        }
        self.len == other.len && used(self) == used(other)
    }
}

impl Default for LatestUse {
    fn default() -> Self {
        LatestUse { len: 0, bytes: [0u8; INLINE_RECORD] }
    }
}

/// The serde form of a [`LatestUse`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum LatestForm {
    /// The record itself.
    Here(UseRecord),
    /// In [`Extra::latest`].
    InExtra,
}

impl From<LatestUse> for Option<LatestForm> {
    fn from(latest: LatestUse) -> Self {
        match latest.len {
            0 => None,
            IN_EXTRA => Some(LatestForm::InExtra),
            len => Some(LatestForm::Here(UseRecord(Packed::Inline { len, bytes: latest.bytes }))),
        }
    }
}

impl From<Option<LatestForm>> for LatestUse {
    fn from(form: Option<LatestForm>) -> Self {
        match form {
            Some(LatestForm::InExtra) => LatestUse { len: IN_EXTRA, bytes: [0u8; INLINE_RECORD] },
            Some(LatestForm::Here(UseRecord(Packed::Inline { len, bytes }))) => LatestUse { len, bytes },
            // A record written from inline packs inline again: a longer one cannot come back.
            None | Some(LatestForm::Here(UseRecord(Packed::Heap(_)))) => LatestUse::default(),
        }
    }
}

/// What the rules may need later of one use, packed: event time, caller address, ASN, country,
/// city, user-agent family, device id and event id (a canonical UUID or 32 hexadecimal digits in 16
/// bytes). Up to 62 bytes inline, longer on the heap.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "UseFields", from = "UseFields")]
pub struct UseRecord(Packed);

#[derive(Debug, Clone, PartialEq)]
enum Packed {
    Inline { len: u8, bytes: [u8; INLINE_RECORD] },
    Heap(Box<[u8]>),
}

// Layout: time (i64 LE), flags, [IP (4 or 16)], [ASN (u32 LE)], four length-prefixed texts
// (country, city, user-agent family, device id; length 0 = none), then the event id: 16 bytes when
// a flag says so, else the rest of the record.
const IPV4: u8 = 1;
const IPV6: u8 = 2;
const ASN: u8 = 4;
const ID_UUID: u8 = 8;
const ID_HEX: u8 = 16;
const ID_UPPER: u8 = 32;

impl UseRecord {
    /// The record of `event`.
    pub fn of(event: &Event) -> Self {
        Self::pack(&UseFieldsRef::of(event))
    }

    fn pack(fields: &UseFieldsRef<'_>) -> Self {
        let layout = fields.layout();
        if layout.len <= INLINE_RECORD {
            let mut bytes = [0u8; INLINE_RECORD];
            fields.write(&layout, &mut bytes[..layout.len]);
            UseRecord(Packed::Inline { len: layout.len as u8, bytes })
        } else {
            let mut bytes = vec![0u8; layout.len].into_boxed_slice();
            fields.write(&layout, &mut bytes);
            UseRecord(Packed::Heap(bytes))
        }
    }

    fn bytes(&self) -> &[u8] {
        match &self.0 {
            Packed::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Packed::Heap(bytes) => bytes,
        }
    }

    /// The recorded fields.
    pub fn view(&self) -> UseView<'_> {
        UseView { bytes: self.bytes() }
    }
}

/// Bytes of the LEB128 encoding of `length`.
fn varint_len(length: usize) -> usize {
    if length < 0x80 { 1 } else { (usize::BITS - length.leading_zeros()).div_ceil(7) as usize }
}

/// `(flags, 16 bytes)` for an event id that is a canonical UUID (`8-4-4-4-12`) or 32 hexadecimal
/// digits, all lower case or all upper case; `(0, None)` for any other id (kept as text).
fn compact_id(id: &str) -> (u8, Option<[u8; 16]>) {
    /// Per byte: its value as a hexadecimal digit, and its class (1 lower-case letter, 2
    /// upper-case letter, 4 not a digit).
    static DIGITS: [(u8, u8); 256] = {
        let mut table = [(0u8, 4u8); 256];
        let mut byte = 0;
        while byte < 256 {
            table[byte] = match byte as u8 {
                b @ b'0'..=b'9' => (b - b'0', 0),
                b @ b'a'..=b'f' => (b - b'a' + 10, 1),
                b @ b'A'..=b'F' => (b - b'A' + 10, 2),
                _ => (0, 4),
            };
            byte += 1;
        }
        table
    };
    /// Where the 16 digit pairs are in a canonical UUID, and in 32 digits.
    const UUID_PAIRS: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    const HEX_PAIRS: [usize; 16] = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
    let bytes = id.as_bytes();
    let (uuid, pairs) = match bytes.len() {
        36 if bytes[8] == b'-' && bytes[13] == b'-' && bytes[18] == b'-' && bytes[23] == b'-' => (true, &UUID_PAIRS),
        32 => (false, &HEX_PAIRS),
        _ => return (0, None),
    };
    let mut out = [0u8; 16];
    let mut class = 0u8;
    for (byte, &at) in out.iter_mut().zip(pairs) {
        let (high, high_class) = DIGITS[usize::from(bytes[at])];
        let (low, low_class) = DIGITS[usize::from(bytes[at + 1])];
        class |= high_class | low_class;
        *byte = high << 4 | low;
    }
    // Not hexadecimal, or mixed case (which 16 bytes could not give back).
    if class & 4 != 0 || class == 3 {
        return (0, None);
    }
    let flags = if uuid { ID_UUID } else { ID_HEX } | if class == 2 { ID_UPPER } else { 0 };
    (flags, Some(out))
}

/// A recorded use, read back field by field (each read decodes only what it needs: the time,
/// read on every event, is at a fixed place).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UseView<'a> {
    bytes: &'a [u8],
}

impl<'a> UseView<'a> {
    fn array<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(bytes) = self.bytes.get(at..at + N) {
            out.copy_from_slice(bytes);
        }
        out
    }

    fn flags(&self) -> u8 {
        self.bytes.get(8).copied().unwrap_or(0)
    }

    /// Event time, µs.
    pub fn time_us(&self) -> i64 {
        i64::from_le_bytes(self.array(0))
    }

    /// Caller address.
    pub fn ip(&self) -> Option<IpAddr> {
        let flags = self.flags();
        if flags & IPV4 != 0 {
            Some(IpAddr::V4(Ipv4Addr::from(self.array::<4>(9))))
        } else if flags & IPV6 != 0 {
            Some(IpAddr::V6(Ipv6Addr::from(self.array::<16>(9))))
        } else {
            None
        }
    }

    /// Where the ASN is, then where the texts start.
    fn after_ip(&self) -> usize {
        let flags = self.flags();
        9 + if flags & IPV4 != 0 {
            4
        } else if flags & IPV6 != 0 {
            16
        } else {
            0
        }
    }

    /// Caller's ASN.
    pub fn asn(&self) -> Option<u32> {
        (self.flags() & ASN != 0).then(|| u32::from_le_bytes(self.array(self.after_ip())))
    }

    /// Text `index` (0 country, 1 city, 2 family, 3 device; none when empty), and where the next
    /// field starts.
    fn text(&self, index: usize) -> (Option<&'a str>, usize) {
        let mut at = self.after_ip() + if self.flags() & ASN != 0 { 4 } else { 0 };
        let mut found = None;
        for current in 0..=index {
            let mut length = 0usize;
            let mut shift = 0;
            loop {
                let byte = self.bytes.get(at).copied().unwrap_or(0);
                at += 1;
                length |= usize::from(byte & 0x7f) << shift;
                shift += 7;
                if byte & 0x80 == 0 || shift > 35 {
                    break;
                }
            }
            if current == index {
                found = self.bytes.get(at..at + length).and_then(|bytes| std::str::from_utf8(bytes).ok());
            }
            at += length;
        }
        (found.filter(|text| !text.is_empty()), at)
    }

    /// Country as the event gave it (none when empty).
    pub fn country(&self) -> Option<&'a str> {
        self.text(0).0
    }

    /// City as the event gave it (none when empty).
    pub fn city(&self) -> Option<&'a str> {
        self.text(1).0
    }

    /// User-agent family ([`user_agent_family`]).
    pub fn family(&self) -> Option<&'a str> {
        self.text(2).0
    }

    /// Device id as the event gave it (none when empty).
    pub fn device(&self) -> Option<&'a str> {
        self.text(3).0
    }

    /// The event id, exactly as the event had it.
    pub fn event_id(&self) -> Cow<'a, str> {
        let (_, at) = self.text(3);
        let flags = self.flags();
        if flags & (ID_UUID | ID_HEX) == 0 {
            let rest = self.bytes.get(at..).unwrap_or_default();
            return Cow::Borrowed(std::str::from_utf8(rest).unwrap_or_default());
        }
        let (uuid, upper) = (flags & ID_UUID != 0, flags & ID_UPPER != 0);
        let mut out = String::with_capacity(36);
        for (index, byte) in self.array::<16>(at).iter().enumerate() {
            if uuid && matches!(index, 4 | 6 | 8 | 10) {
                out.push('-');
            }
            let _ = if upper { write!(out, "{byte:02X}") } else { write!(out, "{byte:02x}") };
        }
        Cow::Owned(out)
    }
}

/// The serde form of a [`UseRecord`] (checkpoints): its fields, not its packing.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct UseFields {
    time_us: i64,
    ip: Option<IpAddr>,
    asn: Option<u32>,
    country: Option<String>,
    city: Option<String>,
    family: Option<String>,
    device: Option<String>,
    event_id: String,
}

struct UseFieldsRef<'a> {
    time_us: i64,
    ip: Option<IpAddr>,
    asn: Option<u32>,
    country: Option<&'a str>,
    city: Option<&'a str>,
    family: Option<&'a str>,
    device: Option<&'a str>,
    event_id: &'a str,
}

/// How a record is laid out: its flags, its compacted event id, its length.
struct Layout {
    flags: u8,
    id: Option<[u8; 16]>,
    len: usize,
}

impl<'a> UseFieldsRef<'a> {
    fn of(event: &'a Event) -> Self {
        let geo = event.geo.as_ref();
        UseFieldsRef {
            time_us: event.time_us,
            ip: event.src_ip,
            asn: event.asn,
            country: geo.and_then(|g| g.country.as_deref()),
            city: geo.and_then(|g| g.city.as_deref()),
            family: event.user_agent.as_deref().and_then(user_agent_family),
            device: event.device_id.as_deref(),
            event_id: &event.event_id,
        }
    }

    fn texts(&self) -> [&'a str; 4] {
        [self.country, self.city, self.family, self.device].map(Option::unwrap_or_default)
    }

    fn layout(&self) -> Layout {
        let (mut flags, id) = compact_id(self.event_id);
        let ip_len = match self.ip {
            Some(IpAddr::V4(_)) => {
                flags |= IPV4;
                4
            }
            Some(IpAddr::V6(_)) => {
                flags |= IPV6;
                16
            }
            None => 0,
        };
        if self.asn.is_some() {
            flags |= ASN;
        }
        let len = 9
            + ip_len
            + if self.asn.is_some() { 4 } else { 0 }
            + self.texts().iter().map(|text| varint_len(text.len()) + text.len()).sum::<usize>()
            + if id.is_some() { 16 } else { self.event_id.len() };
        Layout { flags, id, len }
    }

    /// Writes the record into `out`, exactly `layout.len` bytes.
    fn write(&self, layout: &Layout, out: &mut [u8]) {
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&self.time_us.to_le_bytes());
        put(&[layout.flags]);
        match self.ip {
            Some(IpAddr::V4(v4)) => put(&v4.octets()),
            Some(IpAddr::V6(v6)) => put(&v6.octets()),
            None => {}
        }
        if let Some(asn) = self.asn {
            put(&asn.to_le_bytes());
        }
        for text in self.texts() {
            let mut length = text.len();
            loop {
                let low = (length & 0x7f) as u8;
                length >>= 7;
                put(&[if length == 0 { low } else { low | 0x80 }]);
                if length == 0 {
                    break;
                }
            }
            put(text.as_bytes());
        }
        match &layout.id {
            Some(bytes) => put(bytes),
            None => put(self.event_id.as_bytes()),
        }
    }
}

impl From<UseRecord> for UseFields {
    fn from(record: UseRecord) -> Self {
        let view = record.view();
        UseFields {
            time_us: view.time_us(),
            ip: view.ip(),
            asn: view.asn(),
            country: view.country().map(str::to_string),
            city: view.city().map(str::to_string),
            family: view.family().map(str::to_string),
            device: view.device().map(str::to_string),
            event_id: view.event_id().into_owned(),
        }
    }
}

impl From<UseFields> for UseRecord {
    fn from(fields: UseFields) -> Self {
        UseRecord::pack(&UseFieldsRef {
            time_us: fields.time_us,
            ip: fields.ip,
            asn: fields.asn,
            country: fields.country.as_deref(),
            city: fields.city.as_deref(),
            family: fields.family.as_deref(),
            device: fields.device.as_deref(),
            event_id: &fields.event_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokenwatch_schemas::{Geo, GeoFrom};

    use super::*;
    use crate::testing::event;

    #[test]
    fn the_map_holds_a_pointer_and_the_core_fits_its_allocation() {
        assert_eq!(std::mem::size_of::<TokenState>(), 8);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(std::mem::size_of::<TokenCore>(), 184, "a 192-byte allocation; update the module documentation");
    }

    fn located(id: &str) -> Event {
        let mut e = event(id, 1_767_571_200_123_456);
        e.src_ip = Some("81.2.69.142".parse().unwrap());
        e.asn = Some(2856);
        e.geo = Some(Geo {
            lat: Some(51.5),
            lon: Some(-0.1),
            country: Some("GB".into()),
            city: Some("London".into()),
            radius_km: None,
            from: GeoFrom::Record,
        });
        e.user_agent = Some("Mozilla/5.0 (Macintosh) Chrome/121.0 Safari/537.36".into());
        e.device_id = Some("dev-1".into());
        e
    }

    #[test]
    fn records_give_back_every_field_and_the_exact_event_id() {
        for id in [
            "51d90680-ec69-11f0-a1f7-684a49cb3650",
            "51D90680-EC69-11F0-A1F7-684A49CB3650",
            "51d90680-EC69-11f0-a1f7-684a49cb3650",
            "bf0453300ce7915d10a0e5bc15ffcce3",
            "BF0453300CE7915D10A0E5BC15FFCCE3",
            "bf0453300ce7915d10a0e5bc15ffcceg",
            "Bvy9Nn1qd3VK6_92593JFi",
            "",
            "é-ü",
        ] {
            let record = UseRecord::of(&located(id));
            let view = record.view();
            assert_eq!(view.event_id(), id);
            assert_eq!(view.time_us(), 1_767_571_200_123_456);
            assert_eq!(view.ip(), Some("81.2.69.142".parse().unwrap()));
            assert_eq!(view.asn(), Some(2856));
            assert_eq!((view.country(), view.city()), (Some("GB"), Some("London")));
            assert_eq!((view.family(), view.device()), (Some("Chrome"), Some("dev-1")));
            let json = serde_json::to_string(&record).unwrap();
            assert_eq!(serde_json::from_str::<UseRecord>(&json).unwrap(), record, "{json}");
        }
        let typical = UseRecord::of(&located("51d90680-ec69-11f0-a1f7-684a49cb3650"));
        assert!(matches!(typical.0, Packed::Inline { .. }), "a typical record stays inline");
    }

    #[test]
    fn long_and_empty_fields_survive() {
        let mut e = located(&"x".repeat(300));
        e.src_ip = Some("2001:db8::1".parse().unwrap());
        e.asn = None;
        e.geo.as_mut().unwrap().city = Some("c".repeat(200));
        e.geo.as_mut().unwrap().country = Some(String::new());
        e.user_agent = None;
        e.device_id = None;
        let record = UseRecord::of(&e);
        assert!(matches!(record.0, Packed::Heap(_)));
        let view = record.view();
        assert_eq!(view.event_id(), "x".repeat(300));
        assert_eq!(view.ip(), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(view.asn(), None);
        assert_eq!(view.city(), Some("c".repeat(200).as_str()));
        assert_eq!((view.country(), view.family(), view.device()), (None, None, None));
    }

    #[test]
    fn slots_share_the_latest_use_and_keep_theirs_when_it_moves_on() {
        let mut state = TokenState::new(0);
        let first = located("e1");
        for slot in UseSlot::ALL {
            state.remember(slot);
        }
        assert_eq!(state.recalled(UseSlot::Travel), None, "remembered from the next event on");
        state.commit_uses(&first);
        assert!(state.extra().is_none(), "one record for the three slots");
        let mut second = located("e2");
        second.time_us += 1;
        state.remember(UseSlot::Travel);
        state.remember(UseSlot::Reuse);
        state.commit_uses(&second);
        assert_eq!(state.recalled(UseSlot::Travel).unwrap().event_id(), "e2");
        assert_eq!(state.recalled(UseSlot::Reuse).unwrap().event_id(), "e2");
        assert_eq!(state.recalled(UseSlot::Burst).unwrap().event_id(), "e1");
        // A third event no slot asks for changes nothing; then burst moves on too.
        state.commit_uses(&located("ignored"));
        state.remember(UseSlot::Burst);
        state.commit_uses(&located("e3"));
        assert_eq!(state.recalled(UseSlot::Burst).unwrap().event_id(), "e3");
        assert_eq!(state.recalled(UseSlot::Travel).unwrap().event_id(), "e2");
        assert_eq!(state.recalled(UseSlot::Reuse).unwrap().event_id(), "e2");
        // Both kept slots hold e2 after one move: one moved, one cloned.
        state.remember(UseSlot::Burst);
        state.commit_uses(&located("e4"));
        assert_eq!(state.recalled(UseSlot::Travel).unwrap().event_id(), "e2");
        assert_eq!(state.recalled(UseSlot::Burst).unwrap().event_id(), "e4");
    }

    #[test]
    fn states_survive_serde() {
        let mut state = TokenState::new(5);
        state.remember(UseSlot::Travel);
        state.commit_uses(&located("51d90680-ec69-11f0-a1f7-684a49cb3650"));
        state.remember(UseSlot::Reuse);
        let mut e = located("e2");
        e.origin = tokenwatch_schemas::Origin::file(Arc::from("f"), 2);
        state.commit_uses(&e);
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<TokenState>(&json).unwrap(), state, "{json}");
        // A latest use too long to keep inline lives in the rarely needed part.
        let long = located(&"x".repeat(300));
        state.remember(UseSlot::Burst);
        state.commit_uses(&long);
        assert_eq!(state.recalled(UseSlot::Burst).unwrap().event_id(), "x".repeat(300));
        assert_eq!(state.recalled(UseSlot::Travel).unwrap().event_id(), "51d90680-ec69-11f0-a1f7-684a49cb3650");
        assert_eq!(state.recalled(UseSlot::Reuse).unwrap().event_id(), "e2");
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<TokenState>(&json).unwrap(), state, "{json}");
        state.remember(UseSlot::Travel);
        state.commit_uses(&located("short"));
        assert_eq!(state.recalled(UseSlot::Travel).unwrap().event_id(), "short");
        assert_eq!(state.recalled(UseSlot::Burst).unwrap().event_id(), "x".repeat(300));
        assert_eq!(state.extra().unwrap().latest, None, "the short record is inline again");
    }
}
