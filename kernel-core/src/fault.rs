//! Fault injection: the host's fault plan (`abi::fault`) evaluated at every
//! message event, and the actions it takes.
//!
//! Why the arch layer hands over the plan bytes (and not a trait per
//! access): the plan lives in RAM the VMM reserved, identity-mapped for
//! the kernel, read and written only while the guest runs (the host
//! touches it before boot, during the Stop doorbell exit and after the
//! run). So the whole region is one `&'static mut [u8]`: every access is a
//! bounds-checked slice access, there is no unsafe code here, and host
//! tests give a leaked `Vec`. Only the IPC core knows when a message
//! really moves and what the delivered copy is, so matching and the
//! message-level actions live here; killing a process (Crash) needs the
//! architecture layer's memory teardown and Stop needs a port write, so
//! those are left in [`Faults::crash`] / [`Faults::stop`] for the arch
//! layer to carry out right after the primitive.
//!
//! Events and the actions that apply to them (others never fire there, so
//! they are not counted as matched either):
//!
//! | event | primitive | actions |
//! |---|---|---|
//! | SEND / SENDNB / SENDREC to a process (delivered or queued) | its trap | all (Delay not for SENDNB) |
//! | NOTIFY to a process | NOTIFY | Drop, ReturnError, Crash, Hang, Stop |
//! | SENDA entry delivered (during the call or at RECEIVE) | SENDA | all (ReturnError: the entry's result; Delay: one held entry per sender, [`senda`]) |
//! | kernel call (destination [`SYSTEM_PROGRAM`]) | SENDREC | Drop (not run, returns 0), FlipBits, Overwrite (request), ReturnError, Crash, Hang (of the caller), Stop |
//!
//! The first rule that fires wins; later rules are not evaluated for that
//! event. A queued send is evaluated when it is sent; a corruption decided
//! then is applied when it is delivered. Delay queues the sender even when
//! the receiver waits, and a queued sender is skipped until its time has
//! come ([`Kernel::fault_clock`] delivers it then). Duplicate keeps its copy
//! in the rule's slot of the plan region (`abi::fault::DUPLICATE_SLOTS_OFFSET`),
//! never in kernel memory; the receiver's next RECEIVE that accepts the
//! sender takes it first. A duplicated SENDA entry is stored the same way
//! once it is delivered, and the sender's entry completes once (by that
//! delivery). Delay holds a SENDA entry pending in its sender's table
//! until its tick, and the clock delivers it then as it delivers a held
//! SEND ([`senda`]). Hang marks the process so the scheduler never
//! queues it again; a kill ends that.
//!
//! Cost with no plan: one test of [`Faults::enabled`] per event (and the
//! per-process `hung` test in the run-queue insert). With a plan, an event
//! that no rule can match by source, destination and primitive is turned
//! away by [`PreFilter`] (one row of destinations per source, two bit
//! tests: `fault/filter.rs`) before the message is read or any rule is
//! looked at; the summary is rebuilt whenever the host writes a new plan
//! (`abi::fault::HEADER_FILTER_STAMP`).

use crate::{Kernel, UserMemory, NR_PROCS};
use abi::fault::{
    Action, CLOCK_BUDGET, CLOCK_COMMAND_TICKS, CLOCK_OFFSET, CLOCK_SIZE, DUPLICATE_SLOTS_OFFSET, DUPLICATE_SLOT_SIZE,
    FULL_REGION_SIZE, HEADER_FILTER_STAMP, HEADER_KERNEL_ENTRIES, HEADER_SIZE, HEADER_STOPS, HEADER_VIRTUAL_TICKS,
    MAGIC, MAX_RULES, RULE_SIZE, SYSTEM_PROGRAM, VERSION,
};
use abi::syscall::Trap;
use abi::{Endpoint, Message};

mod filter;
mod senda;
pub(crate) use filter::PreFilter;
pub(crate) use senda::{Holds, SendaFault};

/// No rule.
const NONE: u8 = 0xFF;

/// Fault-injection state of the kernel.
pub struct Faults {
    /// A valid plan is installed.
    pub enabled: bool,
    plan: Option<&'static mut [u8]>,
    rules: usize,
    /// Virtual time in ticks (set by the arch layer through
    /// [`Kernel::fault_clock`]).
    pub now: u64,
    /// Per sender slot: the tick before which its queued send is held
    /// (Delay), 0 = none.
    delayed_until: [u64; NR_PROCS],
    /// Bit per sender slot with a Delay pending.
    pub(crate) delayed: u64,
    /// Per sender slot: the rule whose corruption applies when its queued
    /// send is delivered.
    corrupt: [u8; NR_PROCS],
    /// Bit per receiver slot that may have a duplicate pending.
    pub(crate) dup_pending: u64,
    /// SENDA entries held by Delay.
    pub(crate) senda_holds: Holds,
    /// A process the arch layer must kill now (Crash): (slot, rule).
    pub crash: Option<(usize, u32)>,
    /// A Stop the arch layer must raise now (rule index).
    pub stop: Option<u32>,
    /// The target slot of the last Stop (for the Stop mailbox).
    pub stop_target: usize,
    /// What the rules can match, and the rule count it summarises.
    filter: PreFilter,
    filter_rules: u32,
}

impl Faults {
    /// Whether the arch layer's after-entry hook has anything to do beyond
    /// advancing [`Faults::now`]: a delayed send to deliver when due, a
    /// Crash or a Stop to carry out. False after almost every entry.
    #[inline(always)]
    pub fn work_pending(&self) -> bool {
        self.delayed != 0 || self.senda_holds.waiting != 0 || self.crash.is_some() || self.stop.is_some()
    }

    /// The earliest tick at which a delayed send or a held SENDA entry
    /// becomes due, if any (the virtual clock jumps there when everything
    /// is blocked).
    pub fn next_deadline(&self) -> Option<u64> {
        let sends = crate::ipc::slots_in(self.delayed).map(|s| self.delayed_until[s]).min();
        [sends, self.senda_holds.next_deadline()].into_iter().flatten().min()
    }

    /// No plan.
    pub const OFF: Faults = Faults {
        enabled: false,
        plan: None,
        rules: 0,
        now: 0,
        delayed_until: [0; NR_PROCS],
        delayed: 0,
        corrupt: [NONE; NR_PROCS],
        dup_pending: 0,
        senda_holds: Holds::NONE,
        crash: None,
        stop: None,
        stop_target: 0,
        filter: PreFilter::NOTHING,
        filter_rules: 0,
    };
}

/// One event as the plan sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Site {
    pub src: usize,
    /// Destination slot, or `None` for SYSTEM.
    pub dst: Option<usize>,
    pub primitive: Trap,
    pub mtype: u32,
}

/// A rule that fired.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Fired {
    pub rule: usize,
    pub action: Action,
    pub a: u32,
    pub b: u64,
}

/// Bit of `action` in an applicability mask.
pub(crate) const fn act(action: Action) -> u16 {
    1 << action as u8
}

/// Actions at a send to a process.
pub(crate) const SEND_ACTIONS: u16 = 0x3FE;
/// Actions at NOTIFY.
pub(crate) const NOTIFY_ACTIONS: u16 =
    act(Action::Drop) | act(Action::ReturnError) | act(Action::Crash) | act(Action::Hang) | act(Action::Stop);
/// Actions at a SENDA delivery: all, as at a send to a process.
pub(crate) const SENDA_ACTIONS: u16 = SEND_ACTIONS;
/// Actions at a kernel call.
pub(crate) const KCALL_ACTIONS: u16 = NOTIFY_ACTIONS | act(Action::FlipBits) | act(Action::Overwrite);

// One bounds check and one load each: these run at every kernel entry in
// experiment mode (the clock words, the pre-filter stamp), and a read byte
// by byte costs a check and a load per byte.
#[inline(always)]
fn u32_at(b: &[u8], i: usize) -> u32 {
    let bytes: [u8; 4] = b[i..i + 4].try_into().expect("4 bytes");
    u32::from_le_bytes(bytes)
}
#[inline(always)]
fn u64_at(b: &[u8], i: usize) -> u64 {
    let bytes: [u8; 8] = b[i..i + 8].try_into().expect("8 bytes");
    u64::from_le_bytes(bytes)
}
fn put_u32(b: &mut [u8], i: usize, v: u32) {
    b[i..i + 4].copy_from_slice(&v.to_le_bytes());
}
fn put_u64(b: &mut [u8], i: usize, v: u64) {
    b[i..i + 8].copy_from_slice(&v.to_le_bytes());
}

/// Applies FlipBits or Overwrite to `msg`'s payload.
pub(crate) fn corrupt(msg: &mut Message, action: Action, a: u32, b: u64) {
    let mut bytes = [0u8; 56];
    for (i, w) in msg.payload.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    let at = (a as usize).min(48);
    let old = u64_at(&bytes, at);
    put_u64(&mut bytes, at, if action == Action::FlipBits { old ^ b } else { b });
    for (i, w) in msg.payload.iter_mut().enumerate() {
        *w = u64_at(&bytes, i * 8);
    }
}

impl Kernel {
    /// Installs the plan region (the arch layer found it through
    /// `viv.faults=`). Returns whether the header is valid; fault
    /// injection is on only then.
    pub fn set_fault_plan(&mut self, region: &'static mut [u8]) -> bool {
        let ok = region.len() >= HEADER_SIZE
            && u32_at(region, 0) == MAGIC
            && u32_at(region, 4) == VERSION
            && u32_at(region, 12) & 1 == 1;
        if !ok {
            return false;
        }
        // `rules` is the capacity; the count in the header is read at
        // every evaluation.
        self.faults.rules = MAX_RULES.min((region.len() - HEADER_SIZE) / RULE_SIZE);
        self.faults.plan = Some(region);
        self.faults.enabled = true;
        true
    }

    /// Whether some rule of the plan may match an event of `src` to `dst`
    /// (a slot, or `None` for SYSTEM) by `primitive` ([`PreFilter`]);
    /// rebuilds the summary first when the host wrote a new plan.
    ///
    /// It runs at every send and kernel call of an experiment (the fast
    /// path asks it too), so it is inlined into them and the rebuild is
    /// out of line: the usual case is the plan's stamp and count compared,
    /// one row loaded and two bits tested.
    #[inline(always)]
    pub(crate) fn fault_may_match(&mut self, src: usize, dst: Option<usize>, primitive: Trap) -> bool {
        if self.fault_filter_stale() {
            self.fault_rebuild_filter();
        }
        let src_id = self.procs[src].privilege_id;
        let dst_id = dst.map(|d| self.procs[d].privilege_id);
        self.faults.filter.admits(src_id, dst_id, primitive)
    }

    /// Whether the summary is not the plan's: the host wrote a new plan
    /// (the stamp is 0) or changed its rule count. Without a plan the
    /// summary admits nothing and stays.
    #[inline(always)]
    fn fault_filter_stale(&self) -> bool {
        match self.faults.plan.as_deref().map(<[u8]>::first_chunk::<HEADER_SIZE>) {
            Some(Some(header)) => {
                u32_at(header, HEADER_FILTER_STAMP) != 1 || u32_at(header, 8) != self.faults.filter_rules
            }
            Some(None) | None => false,
        }
    }

    /// Summarises the plan's rules anew ([`PreFilter::of_rules`]) and
    /// stamps the plan as summarised.
    #[cold]
    #[inline(never)]
    fn fault_rebuild_filter(&mut self) {
        let Some(plan) = self.faults.plan.as_deref_mut().filter(|p| p.len() >= HEADER_SIZE) else { return };
        let count = u32_at(plan, 8);
        let rules = (count as usize).min(self.faults.rules);
        self.faults.filter = PreFilter::of_rules(plan, rules);
        self.faults.filter_rules = count;
        put_u32(plan, HEADER_FILTER_STAMP, 1);
    }

    /// Evaluates the plan for `site`, considering only rules whose action
    /// is in `applicable`; updates counters and the PRNG; returns the rule
    /// that fired.
    /// Inlined: most events are turned away by the pre-filter, and only
    /// the rules' matching is out of line.
    #[inline(always)]
    pub(crate) fn fault_evaluate(&mut self, site: Site, applicable: u16) -> Option<Fired> {
        if !self.fault_may_match(site.src, site.dst, site.primitive) {
            return None;
        }
        self.fault_match_rules(site, applicable)
    }

    /// [`Self::fault_evaluate`] after the pre-filter admitted `site`.
    #[inline(never)]
    fn fault_match_rules(&mut self, site: Site, applicable: u16) -> Option<Fired> {
        let src_id = self.procs[site.src].privilege_id;
        let dst_id = site.dst.map_or(SYSTEM_PROGRAM, |d| self.procs[d].privilege_id);
        let now = self.faults.now;
        let plan = self.faults.plan.as_deref_mut()?;
        // The count is re-read: the host may have replaced the plan while
        // the guest was paused (a snapshot restored with new rules).
        let rules = (u32_at(plan, 8) as usize).min(self.faults.rules);
        for i in 0..rules {
            let at = HEADER_SIZE + i * RULE_SIZE;
            let r = &plan[at..at + RULE_SIZE];
            let Some(action) = Action::from_u8(r[3]) else { continue };
            let prims = r[2];
            // The one-byte fields first: most rules turn an event away by
            // its ends or primitive, before the wider fields are read.
            if applicable & act(action) == 0
                || (r[0] != abi::fault::ANY_PROGRAM && r[0] != src_id)
                || (r[1] != abi::fault::ANY_PROGRAM && r[1] != dst_id)
                || (prims != 0 && prims & (1u8 << (site.primitive as u8)) == 0)
            {
                continue;
            }
            let mtype = u32_at(r, 4);
            let (not_before, not_after) = (u64_at(r, 32), u64_at(r, 40));
            if (mtype != abi::fault::ANY_TYPE && mtype != site.mtype)
                || now < not_before
                || (not_after != 0 && now > not_after)
            {
                continue;
            }
            let (nth, limit, probability) = (u32_at(r, 8), u32_at(r, 12), u32_at(r, 16));
            let (a, b) = (u32_at(r, 20), u64_at(r, 24));
            let matched = u32_at(r, 48).wrapping_add(1);
            let injected = u32_at(r, 52);
            put_u32(plan, at + 48, matched);
            if (nth != 0 && matched != nth) || (limit != 0 && injected >= limit) {
                continue;
            }
            if probability != u32::MAX {
                let (state, draw) = abi::fault::next_random(u64_at(plan, 16));
                put_u64(plan, 16, state);
                if draw >= probability {
                    continue;
                }
            }
            put_u32(plan, at + 52, injected.wrapping_add(1));
            let total = u64_at(plan, 24).wrapping_add(1);
            put_u64(plan, 24, total);
            if action == Action::Stop {
                let stops = u64_at(plan, HEADER_STOPS).wrapping_add(1);
                put_u64(plan, HEADER_STOPS, stops);
            }
            return Some(Fired { rule: i, action, a, b });
        }
        None
    }

    /// Carries out the process-level part of `fired` at `site` (Crash,
    /// Hang, Stop) and reports the injection in the trace.
    pub(crate) fn fault_common(&mut self, mem: &mut impl UserMemory, site: Site, fired: Fired) {
        let target = match site.dst {
            Some(d) if fired.b != 1 => d,
            _ => site.src,
        };
        match fired.action {
            Action::Crash => self.faults.crash = Some((target, fired.rule as u32)),
            Action::Hang => self.hang(target),
            Action::Stop => {
                self.faults.stop = Some(fired.rule as u32);
                self.faults.stop_target = target;
            }
            _ => {}
        }
        if self.trace.enabled {
            self.trace_fault(mem, site, fired);
        }
    }

    /// The plan region, if installed (tests and diagnostics).
    pub fn faults_region(&self) -> Option<&[u8]> {
        self.faults.plan.as_deref()
    }

    /// The plan region, writable (the arch layer fills the Stop mailbox,
    /// `abi::fault::STOP_MAILBOX_OFFSET`).
    pub fn faults_region_mut(&mut self) -> Option<&mut [u8]> {
        self.faults.plan.as_deref_mut()
    }

    /// Publishes the kernel's entry count and virtual time in the plan
    /// header (`abi::fault::HEADER_KERNEL_ENTRIES`, `HEADER_VIRTUAL_TICKS`)
    /// for the VMM's spin watchdog and its campaign timings.
    pub fn publish_clock(&mut self, entries: u64, ticks: u64, command_ticks: u64) {
        self.publish_entries(entries);
        self.publish_ticks(ticks, command_ticks);
    }

    /// Publishes the entry count alone (at every kernel entry: the spin
    /// watchdog reads it while the guest runs).
    #[inline(always)]
    pub fn publish_entries(&mut self, entries: u64) {
        if let Some(plan) = self.faults.plan.as_deref_mut().filter(|p| p.len() >= HEADER_SIZE) {
            put_u64(plan, HEADER_KERNEL_ENTRIES, entries);
        }
    }

    /// Publishes the virtual time alone (`abi::fault::HEADER_VIRTUAL_TICKS`
    /// and the workload's ticks, `CLOCK_COMMAND_TICKS`): needed only when
    /// it changed.
    pub fn publish_ticks(&mut self, ticks: u64, command_ticks: u64) {
        if let Some(plan) = self.faults.plan.as_deref_mut().filter(|p| p.len() >= HEADER_SIZE) {
            put_u64(plan, HEADER_VIRTUAL_TICKS, ticks);
            if plan.len() >= CLOCK_OFFSET + CLOCK_SIZE {
                put_u64(plan, CLOCK_COMMAND_TICKS, command_ticks);
            }
        }
    }

    /// The host's budget for the workload in virtual ticks
    /// (`abi::fault::CLOCK_BUDGET`); 0 = none.
    pub fn tick_budget(&self) -> u64 {
        match self.faults.plan.as_deref() {
            Some(plan) if plan.len() >= CLOCK_OFFSET + CLOCK_SIZE => u64_at(plan, CLOCK_BUDGET),
            _ => 0,
        }
    }

    /// Marks `slot` hung: off its run queue and never queued again.
    pub fn hang(&mut self, slot: usize) {
        self.block(slot);
        self.procs[slot].hung = true;
    }

    /// Remembers that `sender`'s queued send gets `fired`'s corruption at
    /// delivery, or holds it until `now + A` (Delay).
    pub(crate) fn fault_hold(&mut self, sender: usize, fired: Fired) {
        match fired.action {
            Action::Delay => {
                self.faults.delayed_until[sender] = self.faults.now.saturating_add(u64::from(fired.a)).max(1);
                self.faults.delayed |= crate::ipc::bit(sender);
            }
            Action::FlipBits | Action::Overwrite => self.faults.corrupt[sender] = fired.rule as u8,
            _ => {}
        }
    }

    /// True while `sender`'s queued send is held by a Delay.
    #[inline]
    pub(crate) fn fault_held(&self, sender: usize) -> bool {
        self.faults.delayed & crate::ipc::bit(sender) != 0 && self.faults.delayed_until[sender] > self.faults.now
    }

    /// Applies a corruption decided when `sender` queued, if any.
    pub(crate) fn fault_corrupt_queued(&mut self, sender: usize, msg: &mut Message) {
        let rule = core::mem::replace(&mut self.faults.corrupt[sender], NONE);
        if rule == NONE {
            return;
        }
        let Some(plan) = self.faults.plan.as_deref() else { return };
        let at = HEADER_SIZE + rule as usize * RULE_SIZE;
        if let Some(action) = Action::from_u8(plan[at + 3]) {
            corrupt(msg, action, u32_at(plan, at + 20), u64_at(plan, at + 24));
        }
    }

    /// Forgets what the plan holds for `slot` (it ended).
    pub(crate) fn fault_forget(&mut self, slot: usize) {
        self.faults.delayed &= !crate::ipc::bit(slot);
        self.faults.delayed_until[slot] = 0;
        self.faults.corrupt[slot] = NONE;
        self.faults.senda_holds.forget(slot);
        if self.faults.crash.is_some_and(|(s, _)| s == slot) {
            self.faults.crash = None;
        }
    }

    /// Stores the duplicate of `msg` (delivered to `receiver`) in `rule`'s
    /// slot. Returns false when the region has no slots.
    pub(crate) fn fault_store_duplicate(&mut self, rule: usize, receiver: usize, msg: &Message) -> bool {
        let ep = self.procs[receiver].endpoint.0;
        let Some(plan) = self.faults.plan.as_deref_mut() else { return false };
        if plan.len() < FULL_REGION_SIZE {
            return false;
        }
        let at = DUPLICATE_SLOTS_OFFSET + rule * DUPLICATE_SLOT_SIZE;
        put_u64(plan, at, u64::from(ep) | 1 << 32);
        put_u64(plan, at + 8, u64::from(msg.source.0));
        plan[at + 16..at + 80].copy_from_slice(&abi::senda::message_to_bytes(msg));
        self.faults.dup_pending |= crate::ipc::bit(receiver);
        true
    }

    /// Takes a pending duplicate for `receiver` that `from` accepts.
    pub(crate) fn fault_take_duplicate(&mut self, receiver: usize, from: Endpoint) -> Option<Message> {
        let ep = u64::from(self.procs[receiver].endpoint.0) | 1 << 32;
        let rules = self.faults.rules;
        let plan = self.faults.plan.as_deref_mut()?;
        let mut others = false;
        for rule in 0..rules {
            let at = DUPLICATE_SLOTS_OFFSET + rule * DUPLICATE_SLOT_SIZE;
            if at + DUPLICATE_SLOT_SIZE > plan.len() || u64_at(plan, at) != ep {
                continue;
            }
            let source = Endpoint(u64_at(plan, at + 8) as u32);
            if from != Endpoint::ANY && from != source {
                others = true;
                continue;
            }
            put_u64(plan, at, 0);
            let mut bytes = [0u8; 64];
            bytes.copy_from_slice(&plan[at + 16..at + 80]);
            return Some(abi::senda::message_from_bytes(&bytes));
        }
        if !others {
            self.faults.dup_pending &= !crate::ipc::bit(receiver);
        }
        None
    }

    /// Delivers the queued send of `sender` (its Delay over) to
    /// `receiver`, which waits for it with its buffer at `msg_addr`.
    fn deliver_queued(
        &mut self,
        mem: &mut impl UserMemory,
        receiver: usize,
        sender: usize,
        _from: Endpoint,
        msg_addr: u64,
    ) {
        let Some(wait) = self.procs[sender].sending else { return };
        let mut msg = match mem.read_message(sender, wait.msg_addr) {
            Ok(m) => m,
            Err(e) => {
                self.unlink_sender(receiver, sender);
                self.procs[sender].sending = None;
                self.wake(mem, sender, e.to_return());
                return;
            }
        };
        msg.source = self.procs[sender].endpoint;
        self.fault_corrupt_queued(sender, &mut msg);
        let _ = msg_addr;
        if self.deliver(mem, receiver, &msg).is_err() {
            return;
        }
        self.unlink_sender(receiver, sender);
        self.procs[sender].sending = None;
        if self.trace.enabled {
            self.trace_message(
                mem,
                abi::trace::Kind::Receive,
                Trap::Receive as u8,
                sender,
                receiver,
                crate::MessageHead::of(&msg),
                true,
            );
        }
        if self.procs[sender].receiving.is_none() {
            self.wake(mem, sender, 0);
        } else {
            self.block(sender);
        }
    }

    /// Reports an injection: kind "fault injected", the event's ends,
    /// primitive and message type, args = [rule index, action].
    fn trace_fault(&self, mem: &mut impl UserMemory, site: Site, fired: Fired) {
        let event = abi::trace::Event {
            kind: abi::trace::Kind::FaultInjected as u8,
            primitive: site.primitive as u8,
            src: self.procs[site.src].endpoint.0,
            dst: site.dst.map_or(Endpoint::SYSTEM.0, |d| self.procs[d].endpoint.0),
            mtype: site.mtype,
            result: 0,
            cause: self.procs[site.src].cause,
            args: [fired.rule as u64, fired.action as u64],
        };
        mem.trace(&event);
    }

    /// The arch layer's clock: virtual time is now `now` ticks. Delivers
    /// delayed sends and held SENDA entries whose time has come to
    /// receivers waiting for them.
    pub fn fault_clock(&mut self, mem: &mut impl UserMemory, now: u64) {
        self.faults.now = now;
        if self.faults.senda_holds.waiting != 0 {
            self.fault_release_senda(mem, now);
        }
        let mut due = self.faults.delayed;
        while due != 0 {
            let sender = due.trailing_zeros() as usize;
            due &= due - 1;
            if self.faults.delayed_until[sender] > now {
                continue;
            }
            self.faults.delayed &= !crate::ipc::bit(sender);
            self.faults.delayed_until[sender] = 0;
            if let Some(wait) = self.procs[sender].sending {
                if self.waits_for(wait.dst, sender) {
                    let r = self.procs[wait.dst].receiving.expect("waiting receiver");
                    self.deliver_queued(mem, wait.dst, sender, r.from, r.msg_addr);
                }
            }
        }
    }

    /// A kernel call of `caller` with the request at `msg_addr`: `Some`
    /// with the value the call returns when the plan replaces it (Drop,
    /// ReturnError, Crash, Hang); `None` to run it (possibly corrupted).
    ///
    /// Inlined into the kernel-call entry: a caller whose kernel calls no
    /// rule names (every caller, in a plan that targets drivers) costs the
    /// pre-filter's test and no call.
    #[inline(always)]
    pub fn fault_kernel_call(&mut self, mem: &mut impl UserMemory, caller: usize, msg_addr: u64) -> Option<i64> {
        // No rule for kernel calls of this caller: no need to read the request.
        if !self.fault_may_match(caller, None, Trap::SendRec) {
            return None;
        }
        self.fault_kernel_call_admitted(mem, caller, msg_addr)
    }

    /// [`Self::fault_kernel_call`] once the pre-filter admitted it.
    #[inline(never)]
    fn fault_kernel_call_admitted(&mut self, mem: &mut impl UserMemory, caller: usize, msg_addr: u64) -> Option<i64> {
        let mut msg = mem.read_message(caller, msg_addr).ok()?;
        let site = Site { src: caller, dst: None, primitive: Trap::SendRec, mtype: msg.mtype };
        let fired = self.fault_match_rules(site, KCALL_ACTIONS)?;
        self.fault_common(mem, site, fired);
        match fired.action {
            Action::FlipBits | Action::Overwrite => {
                corrupt(&mut msg, fired.action, fired.a, fired.b);
                let _ = mem.write_message(caller, msg_addr, &msg);
                None
            }
            Action::ReturnError => Some(-i64::from(fired.a)),
            Action::Stop => None,
            _ => Some(0),
        }
    }
}

/// The hooks the primitives call (only while [`Faults::enabled`]).
impl Kernel {
    /// A send of `caller` to `dst_slot`: `Err` with the primitive's outcome
    /// when the plan ends it here (Drop, Crash: success without delivery;
    /// ReturnError: `-A`), else the rule whose effect applies at delivery
    /// or queueing (FlipBits, Overwrite, Duplicate, Delay).
    pub(crate) fn fault_send(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        dst_slot: usize,
        msg_addr: u64,
        trap: Trap,
    ) -> Result<Option<Fired>, crate::Outcome> {
        // No rule for this pair and primitive: no need to read the message.
        if !self.fault_may_match(caller, Some(dst_slot), trap) {
            return Ok(None);
        }
        let Ok(msg) = mem.read_message(caller, msg_addr) else { return Ok(None) };
        let site = Site { src: caller, dst: Some(dst_slot), primitive: trap, mtype: msg.mtype };
        let applicable = if trap == Trap::SendNb { SEND_ACTIONS & !act(Action::Delay) } else { SEND_ACTIONS };
        let Some(fired) = self.fault_match_rules(site, applicable) else { return Ok(None) };
        self.fault_common(mem, site, fired);
        match fired.action {
            Action::Drop | Action::Crash => Err(crate::Outcome::Done(0)),
            Action::ReturnError => Err(crate::Outcome::Done(-i64::from(fired.a))),
            Action::Hang | Action::Stop => Ok(None),
            _ => Ok(Some(fired)),
        }
    }

    /// The delivered copy of a send that `fired` applies to.
    pub(crate) fn fault_on_delivery(&mut self, fired: Fired, receiver: usize, msg: &mut Message) {
        match fired.action {
            Action::FlipBits | Action::Overwrite => corrupt(msg, fired.action, fired.a, fired.b),
            Action::Duplicate => {
                self.fault_store_duplicate(fired.rule, receiver, msg);
            }
            _ => {}
        }
    }

    /// A send that `fired` applies to was queued.
    pub(crate) fn fault_on_queue(
        &mut self,
        mem: &mut impl UserMemory,
        fired: Fired,
        sender: usize,
        receiver: usize,
        msg_addr: u64,
    ) {
        if fired.action == Action::Duplicate {
            if let Ok(mut msg) = mem.read_message(sender, msg_addr) {
                msg.source = self.procs[sender].endpoint;
                self.fault_store_duplicate(fired.rule, receiver, &msg);
            }
        } else {
            self.fault_hold(sender, fired);
        }
    }

    /// RECEIVE's first look: a pending duplicate for `caller`.
    pub(crate) fn fault_receive_duplicate(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        from: Endpoint,
        msg_addr: u64,
    ) -> Option<crate::Outcome> {
        let msg = self.fault_take_duplicate(caller, from)?;
        if let Err(e) = mem.write_message(caller, msg_addr, &msg) {
            return Some(crate::Outcome::err(e));
        }
        if self.trace.enabled {
            let event = abi::trace::Event {
                kind: abi::trace::Kind::Receive as u8,
                primitive: Trap::Receive as u8,
                src: msg.source.0,
                dst: self.procs[caller].endpoint.0,
                mtype: msg.mtype,
                result: 0,
                cause: self.procs[caller].cause,
                args: [msg.payload[0], msg.payload[1]],
            };
            mem.trace(&event);
        }
        Some(crate::Outcome::Done(0))
    }

    /// NOTIFY of `caller` to `dst_slot`: `Some` when the plan ends it.
    pub(crate) fn fault_notify(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        dst_slot: usize,
    ) -> Option<crate::Outcome> {
        let site = Site { src: caller, dst: Some(dst_slot), primitive: Trap::Notify, mtype: abi::notify::NOTIFY_MTYPE };
        let fired = self.fault_evaluate(site, NOTIFY_ACTIONS)?;
        self.fault_common(mem, site, fired);
        match fired.action {
            Action::Drop | Action::Crash => Some(crate::Outcome::Done(0)),
            Action::ReturnError => Some(crate::Outcome::Done(-i64::from(fired.a))),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "tests/fault.rs"]
pub(crate) mod tests;
