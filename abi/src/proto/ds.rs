//! DS, the data store: a registry of names (services) to endpoints and a
//! small value, with change notifications.
//!
//! The reincarnation server publishes every service it starts and
//! republishes it after a restart, so callers that subscribed to a name
//! learn the new endpoint and re-send what the old one lost. DS itself is
//! started by the kernel; its endpoint is in the kernel info page under the
//! name `ds`.

super::message_types! {
    /// Publish: `payload[0]` = endpoint, `[1]` = value, name in words 2-3.
    /// Only RS may publish a name for another endpoint; any process may publish
    /// a name for itself. Replaces an existing entry; an entry naming another
    /// endpoint only RS may replace. RS publishes each service at every start
    /// with value = its restart count. Names of the boot image's services are
    /// RS's alone, even while the service is down (`abi::weaken::DS_NAMES`).
    /// Reply: 0, `Perm` (not allowed), `Invalid` (empty name or `"*"`), or
    /// `TooMany` (table full, or the caller already owns
    /// [`MAX_ENTRIES_PER_CLIENT`] names, or the entries not reserved for RS
    /// are all taken: `abi::weaken::DS_QUOTA`).
    PUBLISH = 0x100 => "ds.publish";
    /// Lookup: name in words 2-3. Reply: `[0, endpoint, value]`, or `NoEntry`.
    LOOKUP = 0x101 => "ds.lookup";
    /// Subscribe: name in words 2-3 (`"*"` for every name). DS NOTIFYs the
    /// subscriber whenever a matching entry is published or deleted; the
    /// subscriber then calls [`CHECK`]. Entries that already match are
    /// reported too (at once), so subscribing never misses the current state.
    /// A subscriber that has died loses its subscriptions. Reply: 0, or
    /// `TooMany` (table full, or the caller already has
    /// [`MAX_SUBSCRIPTIONS_PER_CLIENT`]; RS excepted).
    SUBSCRIBE = 0x102 => "ds.subscribe";
    /// Check: the next changed entry for this subscriber (its current state:
    /// several changes to one entry between two checks are reported once).
    /// Reply: `[0, endpoint, value, name (words 4-5)]` (endpoint
    /// `Endpoint::NONE` when deleted), or `NoEntry` when nothing more changed.
    CHECK = 0x103 => "ds.check";
    /// Delete: name in words 2-3 (RS, or the endpoint the entry names). Reply:
    /// 0, `NoEntry`, or `Perm`.
    DELETE = 0x104 => "ds.delete";
}

/// Most names DS holds.
pub const MAX_ENTRIES: usize = 64;
/// Most subscribers DS serves.
pub const MAX_SUBSCRIBERS: usize = 32;
/// Most live names one endpoint other than RS may own.
pub const MAX_ENTRIES_PER_CLIENT: usize = 4;
/// Entries only RS may fill: clients together own at most
/// `MAX_ENTRIES - RESERVED_FOR_RS` live names, so RS can always publish
/// (and republish after a restart) every service.
pub const RESERVED_FOR_RS: usize = 24;
/// Most subscriptions one endpoint other than RS may hold.
pub const MAX_SUBSCRIPTIONS_PER_CLIENT: usize = 4;

/// RS's heartbeat period for DS, in ms. DS is started by the kernel, not
/// from RS's service table, so its period is fixed here rather than in the
/// image (`heartbeat_ms` belongs to services). A dead DS is found at the
/// next ping (its NOTIFY fails) or at once when a process asks RS where DS
/// is (`abi::proto::rs::DS_ENDPOINT`).
pub const HEARTBEAT_MS: u64 = 500;

pub mod backup;
