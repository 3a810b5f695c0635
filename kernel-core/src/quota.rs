//! The per-user memory quota: how many frames each user's processes hold,
//! and whether one more may be given (issue 11, "bounded resources").
//!
//! Why here: PM keeps the uids, but frames are handed out by the kernel,
//! in places PM never sees (a copy-on-write break during IPC, a
//! zero-fill page fault), so the kernel must know whose frame it is at
//! the moment it allocates. PM tells the kernel a process's uid when it
//! changes (`KernelCall::SetUid`); a fork inherits it. This is the policy
//! as plain logic, host-tested; the kernel's frame allocator asks it
//! before every allocation for a process.
//!
//! What is charged: every frame a process's page tables hold for it — its
//! page-table frames and every page it owns, *shared or not*. A frame
//! shared copy-on-write by a parent and its child counts for both, so a
//! fork is charged in full when it happens (and refused with `ENOMEM`
//! there, not later), and breaking the sharing costs nothing more: the
//! private copy replaces a reference already charged. Physical use is
//! never more than the charges, so bounding the charges bounds the frames.
//! Pages mapped from the boot image and the shared zero frame are not
//! owned and cost nothing until written.
//!
//! Who is exempt: uid 0 and the processes PM did not create (the boot
//! processes, RS's services) are the system account, outside the quota.
//! A reserve of free frames is kept for them: a user allocation is refused
//! when it would leave fewer than `reserve` frames, so that RS can always
//! restart a driver (blk's DMA buffer) however many users fill memory.
//!
//! Owners are process slots, plus one more for an address space built
//! before its slot exists (a spawn), whose charges then move to the slot.

use crate::NR_PROCS;

/// Owners: one per process slot, and [`BUILDING`]; a power of two, so
/// that an index masked into range needs no bounds check (these are on
/// every allocation's path).
pub const OWNERS: usize = (NR_PROCS + 1).next_power_of_two();
/// The owner of an address space being built for a process that has no
/// slot yet (a spawn); [`MemoryQuota::adopt`] moves its charges.
pub const BUILDING: usize = NR_PROCS;
/// Accounts: the system account and at most one per owner (a power of
/// two, as [`OWNERS`]).
const ACCOUNTS: usize = OWNERS * 2;
const _: () = assert!(NR_PROCS + 2 <= ACCOUNTS && BUILDING < OWNERS);
/// The account of uid 0 and of processes without a uid: never limited.
pub const SYSTEM: u8 = 0;
/// uid 0, the administrator (as `abi::proto::pm::ROOT_UID`).
const ROOT_UID: u64 = 0;

/// Why an allocation was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Refusal {
    /// The user's processes hold their quota.
    Quota,
    /// Only the reserve kept for the system is left.
    Reserve,
}

/// The frames held per process and per user, and the limits.
#[derive(Clone, Copy, Debug)]
pub struct MemoryQuota {
    /// Frames charged to each owner.
    held: [u32; OWNERS],
    /// Each owner's account.
    account_of: [u8; OWNERS],
    /// Per account: its uid, its member owners and the frames they hold.
    uid: [u64; ACCOUNTS],
    members: [u8; ACCOUNTS],
    total: [u32; ACCOUNTS],
    /// Frames one user's processes may hold together.
    pub limit: u32,
    /// Free frames user allocations must leave for the system.
    pub reserve: u32,
    /// The quota and the reserve are enforced (`abi::weaken::MEMORY_QUOTA`
    /// switches them off, for a negative control only).
    pub enforced: bool,
}

impl MemoryQuota {
    /// Nobody holds anything; everyone is in the system account.
    pub const fn new(limit: u32, reserve: u32) -> MemoryQuota {
        MemoryQuota {
            held: [0; OWNERS],
            account_of: [SYSTEM; OWNERS],
            uid: [ROOT_UID; ACCOUNTS],
            members: [0; ACCOUNTS],
            total: [0; ACCOUNTS],
            limit,
            reserve,
            enforced: true,
        }
    }

    /// Whether `owner` may be given frames: `charged` more counted against
    /// its quota, `taken` of them new physical frames out of `available`
    /// free ones. The system account is never refused here.
    #[inline]
    pub fn check(&self, owner: usize, charged: u32, taken: u32, available: u64) -> Result<(), Refusal> {
        let account = self.account(owner);
        if account == SYSTEM as usize || !self.enforced {
            return Ok(());
        }
        if self.total[account].saturating_add(charged) > self.limit {
            return Err(Refusal::Quota);
        }
        if taken > 0 && available < u64::from(self.reserve) + u64::from(taken) {
            return Err(Refusal::Reserve);
        }
        Ok(())
    }

    /// Counts `frames` more for `owner` (after [`Self::check`]).
    #[inline]
    pub fn charge(&mut self, owner: usize, frames: u32) {
        let account = self.account(owner);
        self.held[owner & (OWNERS - 1)] += frames;
        self.total[account] += frames;
    }

    /// Counts `frames` fewer for `owner` (freed, or no longer its).
    #[inline]
    pub fn uncharge(&mut self, owner: usize, frames: u32) {
        let account = self.account(owner);
        let held = &mut self.held[owner & (OWNERS - 1)];
        debug_assert!(*held >= frames, "owner {owner} frees more than it holds");
        *held -= frames;
        self.total[account] -= frames;
    }

    /// `owner`'s account, as an index that needs no bounds check.
    #[inline]
    fn account(&self, owner: usize) -> usize {
        self.account_of[owner & (OWNERS - 1)] as usize & (ACCOUNTS - 1)
    }

    /// Frames `owner` holds.
    pub fn held(&self, owner: usize) -> u32 {
        self.held[owner]
    }

    /// Frames the processes of `uid` hold together (0 for a uid with no
    /// process; the system account's for uid 0).
    pub fn held_by_uid(&self, uid: u64) -> u32 {
        self.account_for(uid).map_or(0, |a| self.total[a])
    }

    /// The uid `owner` is charged as.
    pub fn uid_of(&self, owner: usize) -> u64 {
        self.uid[self.account_of[owner] as usize]
    }

    fn account_for(&self, uid: u64) -> Option<usize> {
        if uid == ROOT_UID {
            return Some(SYSTEM as usize);
        }
        (1..ACCOUNTS).find(|&a| self.members[a] > 0 && self.uid[a] == uid)
    }

    /// A new process in slot `owner` (spawned, or about to be built): the
    /// system account, nothing held.
    pub fn start_system(&mut self, owner: usize) {
        self.leave(owner);
        self.join(owner, SYSTEM as usize);
    }

    /// A forked child in slot `child`: `parent`'s account, nothing held.
    pub fn start_child(&mut self, child: usize, parent: usize) {
        self.leave(child);
        self.join(child, self.account_of[parent] as usize);
    }

    /// Moves what [`BUILDING`] holds to the new process in slot `owner`
    /// (both in the system account).
    pub fn adopt(&mut self, owner: usize) {
        self.start_system(owner);
        let frames = self.held[BUILDING];
        self.held[BUILDING] = 0;
        self.held[owner] = frames;
        let (from, to) = (self.account_of[BUILDING] as usize, SYSTEM as usize);
        self.total[from] -= frames;
        self.total[to] += frames;
    }

    /// The process in slot `owner` is now charged as `uid` (uid 0: the
    /// system account); what it holds moves with it. It may leave the
    /// user over quota: its next allocation is then refused.
    pub fn set_uid(&mut self, owner: usize, uid: u64) {
        let frames = self.held[owner];
        self.total[self.account_of[owner] as usize] -= frames;
        self.leave(owner);
        let account = match self.account_for(uid) {
            Some(a) => a,
            None => {
                // A free account: there are more accounts than owners.
                let a = (1..ACCOUNTS).find(|&a| self.members[a] == 0).unwrap_or(SYSTEM as usize);
                self.uid[a] = uid;
                self.total[a] = 0;
                a
            }
        };
        self.join(owner, account);
        self.total[account] += frames;
    }

    /// The process in slot `owner` ended and its memory was freed (it
    /// holds nothing now).
    pub fn end(&mut self, owner: usize) {
        debug_assert_eq!(self.held[owner], 0, "owner {owner} ended holding frames");
        self.leave(owner);
        self.join(owner, SYSTEM as usize);
    }

    fn join(&mut self, owner: usize, account: usize) {
        self.account_of[owner] = account as u8;
        self.members[account] += 1;
    }

    fn leave(&mut self, owner: usize) {
        let account = self.account_of[owner] as usize;
        self.members[account] = self.members[account].saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLENTY: u64 = 1 << 20;

    /// A system with `limit` frames per user and a reserve of 8.
    fn quota(limit: u32) -> MemoryQuota {
        let mut q = MemoryQuota::new(limit, 8);
        for slot in 0..OWNERS {
            q.start_system(slot);
        }
        q
    }

    /// Takes one frame for `owner` if the quota allows.
    fn take(q: &mut MemoryQuota, owner: usize) -> Result<(), Refusal> {
        q.check(owner, 1, 1, PLENTY)?;
        q.charge(owner, 1);
        Ok(())
    }

    #[test]
    fn a_user_is_refused_at_its_limit_and_root_is_not() {
        let mut q = quota(10);
        q.set_uid(1, 1000);
        for _ in 0..10 {
            take(&mut q, 1).unwrap();
        }
        assert_eq!(take(&mut q, 1), Err(Refusal::Quota));
        assert_eq!(q.held_by_uid(1000), 10);
        // Root and the system take as much as there is.
        q.set_uid(2, 0);
        for _ in 0..100 {
            take(&mut q, 2).unwrap();
            take(&mut q, 3).unwrap();
        }
        // Another user has its own quota.
        q.set_uid(4, 1001);
        take(&mut q, 4).unwrap();
        // Freeing makes room again.
        q.uncharge(1, 1);
        take(&mut q, 1).unwrap();
    }

    #[test]
    fn the_quota_counts_all_processes_of_a_user() {
        let mut q = quota(10);
        q.set_uid(1, 1000);
        for _ in 0..6 {
            take(&mut q, 1).unwrap();
        }
        q.start_child(2, 1);
        assert_eq!(q.uid_of(2), 1000);
        // A fork is charged for the parent's pages it shares: 6 do not fit.
        assert_eq!(q.check(2, 6, 0, PLENTY), Err(Refusal::Quota));
        q.check(2, 4, 0, PLENTY).unwrap();
        q.charge(2, 4);
        assert_eq!(take(&mut q, 1), Err(Refusal::Quota));
        assert_eq!(take(&mut q, 2), Err(Refusal::Quota));
        // The child exits: its frames go back to the user.
        q.uncharge(2, 4);
        q.end(2);
        take(&mut q, 1).unwrap();
        assert_eq!(q.held_by_uid(1000), 7);
    }

    #[test]
    fn users_leave_the_reserve_to_the_system() {
        let mut q = quota(100);
        q.set_uid(1, 1000);
        // 9 free frames: one may go to the user, leaving the reserve of 8.
        q.check(1, 1, 1, 9).unwrap();
        assert_eq!(q.check(1, 1, 1, 8), Err(Refusal::Reserve));
        // A charge without a new frame (a shared page) needs no free frame.
        q.check(1, 1, 0, 0).unwrap();
        // The system may take the last frame.
        q.check(2, 1, 1, 1).unwrap();
        q.enforced = false;
        q.check(1, 1000, 1, 1).unwrap();
    }

    #[test]
    fn setuid_moves_what_a_process_holds() {
        let mut q = quota(10);
        for _ in 0..4 {
            take(&mut q, 5).unwrap();
        }
        assert_eq!(q.held_by_uid(0), 4);
        q.set_uid(5, 1000);
        assert_eq!((q.held_by_uid(0), q.held_by_uid(1000)), (0, 4));
        // Over quota after the move (root held more): refused from then on.
        for _ in 0..6 {
            take(&mut q, 5).unwrap();
        }
        q.set_uid(6, 1000);
        assert_eq!(take(&mut q, 6), Err(Refusal::Quota));
        q.set_uid(5, 0);
        assert_eq!(q.held_by_uid(1000), 0);
        take(&mut q, 6).unwrap();
    }

    /// The kernel's calls for one user process's life, in its order
    /// (guest-kernel `frames`, `paging`, `lifecycle`): exec, fork (tables,
    /// the hot stack copied, the rest shared in one charge), copy-on-write
    /// breaks, an exec replacing the child's image, zero-fill pages, and
    /// both exits. Everything balances to zero, and the user was refused
    /// exactly at its limit on the way.
    #[test]
    fn exec_fork_cow_zero_fill_and_exit_balance_to_zero() {
        let mut q = quota(60);
        let (parent, child) = (1, 2);
        q.set_uid(parent, 1000);
        // Exec: 4 tables, 6 data pages, the stack's top page.
        for _ in 0..11 {
            take(&mut q, parent).unwrap();
        }
        // Fork: 4 tables and 3 hot stack pages allocated, 8 pages shared.
        q.start_child(child, parent);
        for _ in 0..7 {
            take(&mut q, child).unwrap();
        }
        q.charge(child, 8);
        q.check(child, 0, 0, PLENTY).unwrap();
        assert_eq!(q.held_by_uid(1000), 26);
        // Two copy-on-write breaks, one in each: a frame replaces a
        // reference, no quota needed (a full user may still break them).
        for owner in [parent, child] {
            q.check(owner, 0, 1, PLENTY).unwrap();
            q.charge(owner, 1);
            q.uncharge(owner, 1);
        }
        // The child execs: the new image (11 frames) is built while the
        // old one (7 + 8) still counts, then the old one is freed.
        for _ in 0..11 {
            take(&mut q, child).unwrap();
        }
        q.uncharge(child, 15);
        assert_eq!(q.held_by_uid(1000), 22);
        // Zero-fill pages until the limit.
        let mut filled = 0;
        while take(&mut q, child).is_ok() {
            filled += 1;
        }
        assert_eq!((filled, q.held_by_uid(1000)), (38, 60));
        assert_eq!(q.check(child, 0, 1, PLENTY), Ok(()), "a copy-on-write break is not refused at the limit");
        assert_eq!(q.check(parent, 1, 1, PLENTY), Err(Refusal::Quota), "nor is the parent's next page given");
        q.uncharge(child, 38);
        // Both exit.
        q.uncharge(child, 11);
        q.end(child);
        q.uncharge(parent, 11);
        q.end(parent);
        assert_eq!(q.held_by_uid(1000), 0);
        assert!(q.held.iter().chain(q.total.iter()).all(|&n| n == 0));
    }

    #[test]
    fn a_spawn_built_before_its_slot_is_adopted() {
        let mut q = quota(10);
        q.charge(BUILDING, 7);
        q.adopt(9);
        assert_eq!((q.held(9), q.held(BUILDING)), (7, 0));
        assert_eq!(q.held_by_uid(0), 7);
        q.uncharge(9, 7);
        q.end(9);
        assert_eq!(q.held_by_uid(0), 0);
    }

    #[test]
    fn accounts_are_reused_and_never_run_out() {
        let mut q = quota(10);
        // Every slot its own user, twice over.
        for round in 0..2u64 {
            for slot in 0..NR_PROCS {
                q.set_uid(slot, 1000 + round * 100 + slot as u64);
                take(&mut q, slot).unwrap();
            }
            for slot in 0..NR_PROCS {
                assert_eq!(q.held_by_uid(1000 + round * 100 + slot as u64), 1);
                q.uncharge(slot, 1);
                q.end(slot);
            }
        }
        assert!(q.total.iter().all(|&t| t == 0));
    }
}
