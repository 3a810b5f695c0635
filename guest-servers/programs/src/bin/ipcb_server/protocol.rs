//! The `ipcbench` protocol, shared by `ipcb_client` and the two servers.

/// A one-way message (SEND phases); not answered.
pub const ONE_WAY: u32 = 1;
/// A request answered at once with [`REPLY`] (SENDREC phase); word 0 is
/// echoed back.
pub const ECHO: u32 = 2;
/// The answer to [`ECHO`] and [`COUNTS`].
pub const REPLY: u32 = 3;
/// The message type of SENDA entries; not answered.
pub const ASYNC: u32 = 4;
/// "How many of each did you get?": answered with [`REPLY`] carrying the
/// counts, indexed by the `COUNT_*` constants.
pub const COUNTS: u32 = 5;

/// Index of the one-way messages in a [`COUNTS`] reply.
pub const COUNT_ONE_WAY: usize = 0;
/// Index of the echo requests.
pub const COUNT_ECHO: usize = 1;
/// Index of the notifications from the client.
pub const COUNT_NOTIFY: usize = 2;
/// Index of the SENDA messages.
pub const COUNT_ASYNC: usize = 3;
