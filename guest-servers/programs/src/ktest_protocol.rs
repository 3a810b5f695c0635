//! Message types spoken inside the `kernel-test` image between `ktest` (the
//! orchestrator) and its helpers `kt_echo`, `kt_waiter` and `kt_user`.

/// To kt_echo: reply `ECHO_REPLY` with every payload word plus one.
pub const ECHO: u32 = 1;
/// From kt_echo: the answer to `ECHO`.
pub const ECHO_REPLY: u32 = 2;
/// To kt_echo: notify the caller twice, reply `ACK`, then SEND `DATA`.
pub const NOTIFY_TWICE_THEN_SEND: u32 = 3;
/// A plain acknowledgement.
pub const ACK: u32 = 4;
/// A data message; `payload[0]` carries a value.
pub const DATA: u32 = 5;
/// An asynchronous (SENDA) message; `payload[0]` carries a value.
pub const ASYNC: u32 = 6;
/// To kt_echo: reply `[number of ASYNC messages, sum of their values]`.
pub const ASYNC_COUNT: u32 = 7;
/// To kt_echo: safe-copy with a grant: payload `[granter, grant id, offset,
/// length, direction (0 = from the granter, 1 = to it), fill byte]`; the
/// reply carries `[result as i64, sum of the bytes read]`.
pub const GRANT_COPY: u32 = 8;

/// To kt_waiter: RECEIVE from `payload[0]`, then SEND `REPORT` back.
pub const W_RECEIVE_FROM: u32 = 20;
/// To kt_waiter: SEND `DATA` (value `payload[1]`) to `payload[0]`, then SEND
/// `REPORT` back.
pub const W_SEND_TO: u32 = 21;
/// From kt_waiter: `payload[0]` = the result (0 or a negated error),
/// `payload[1]` = type of the message received, `payload[2]` = its source.
pub const REPORT: u32 = 22;
/// From kt_waiter: it received an `ASYNC` message; `payload[0]` = its value.
pub const REPORT_ASYNC: u32 = 23;

/// From kt_user: the results of its forbidden operations, as negated
/// errors in the order of [`USER_CHECKS`].
pub const USER_REPORT: u32 = 30;
/// What kt_user tries, in the order of its report.
pub const USER_CHECKS: [&str; 7] = [
    "user_send_trap_denied",
    "user_notify_trap_denied",
    "user_senda_trap_denied",
    "user_forbidden_destination",
    "user_forbidden_kernel_call",
    "unknown_kernel_call",
    "user_bad_message_pointer",
];
