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
/// To kt_echo: put an indirect grant in kt_echo's own grant table (entry
/// `payload[6]`, 0-3) with `abi::grant::Grant::indirect(payload[0..6])`
/// (grantee, target granter, target id, offset, length, rights); rights 0
/// clears the entry. Reply `[0]`.
pub const GRANT_INDIRECT_SET: u32 = 9;

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

/// From kt_child (spawned): SENDREC asking for orders; ktest may fork it
/// while it waits. The reply is `CHILD_FORKED`, `CHILD_EXEC` or
/// `CHILD_EXIT`.
pub const CHILD_HELLO: u32 = 40;
/// To kt_child: you were (or were not) forked; `payload[0]` = the value
/// to write into its variable and report (different for parent and child).
pub const CHILD_FORKED: u32 = 41;
/// To kt_child: ask to be exec'd (send `CHILD_EXEC_ME`).
pub const CHILD_EXEC: u32 = 42;
/// To kt_child: exit with status `payload[0]`.
pub const CHILD_EXIT: u32 = 43;
/// From kt_child: SENDREC after writing its variable; `payload[0]` = the
/// value written. The reply lets it read the variable back.
pub const CHILD_WROTE: u32 = 44;
/// From kt_child: SEND with `[value written, value read back]`; it then
/// exits with the value written as its status.
pub const CHILD_COW_REPORT: u32 = 45;
/// From kt_child: SENDREC `[address, length]` of an argument block in its
/// memory, for ktest to exec it with.
pub const CHILD_EXEC_ME: u32 = 46;
/// From an exec'd kt_child: SEND `[argc, block length, first 40 bytes of
/// the block]`; it then exits with [`CHILD_EXEC_STATUS`].
pub const CHILD_ARGS_REPORT: u32 = 47;
/// Exit status of an exec'd kt_child.
pub const CHILD_EXEC_STATUS: u32 = 7;
/// The arguments ktest has kt_child exec itself with.
pub const CHILD_ARGS: [&str; 3] = ["kt_child", "hello", "world"];
/// The line `dev_out_string_writes` writes to the UART.
pub const DEV_OUT_LINE: &str = "kt-dev-out: written with rep outsb\n";
