//! Lazy scheduling (`RunQueues` with the running process kept out of its
//! queue) decides exactly what the queues decided when every ready process
//! was linked, the running one at the front of its own: random sequences
//! of queue operations run against a model of those queues (a FIFO per
//! priority), and after every step the scheduler's choice and the order
//! of every queue agree, and the running process is in no queue.

use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;
use std::vec::Vec;

/// Processes in the test (slots 0..P), at priorities 0..3.
const P: usize = 6;

#[derive(Clone, Debug)]
enum Op {
    /// A process becomes ready (`wake`).
    Enqueue(usize),
    /// A process blocks or ends (`block`).
    Dequeue(usize),
    /// Its quantum ran out (`tick`).
    Rotate(usize),
    /// The scheduler gives the CPU to its choice.
    RunFirst,
    /// The fast path: the running process blocks and wakes a blocked one.
    Pass(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..P).prop_map(Op::Enqueue),
        3 => (0..P).prop_map(Op::Dequeue),
        1 => (0..P).prop_map(Op::Rotate),
        3 => Just(Op::RunFirst),
        3 => (0..P).prop_map(Op::Pass),
    ]
}

/// The queues as they were: every ready process linked, FIFO.
struct Model {
    queues: Vec<VecDeque<usize>>,
    priority: [u8; P],
}

impl Model {
    fn queued(&self, s: usize) -> bool {
        self.queues.iter().any(|q| q.contains(&s))
    }
    fn enqueue(&mut self, s: usize) {
        if !self.queued(s) {
            self.queues[usize::from(self.priority[s])].push_back(s);
        }
    }
    fn dequeue(&mut self, s: usize) {
        for q in &mut self.queues {
            q.retain(|&x| x != s);
        }
    }
    fn first(&self) -> Option<usize> {
        self.queues.iter().find_map(|q| q.front().copied())
    }
}

fn check(k: &Kernel, model: &Model) {
    let order = k.run_queues.order(&k.procs);
    for (q, list) in model.queues.iter().enumerate() {
        assert_eq!(order[q], list.iter().copied().collect::<Vec<_>>(), "queue {q}");
    }
    assert_eq!(k.pick_next(), model.first());
    if let Some(r) = k.run_queues.running() {
        assert!(!k.procs[r].queued, "the running process {r} is linked into its queue");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn lazy_queues_choose_what_linked_queues_chose(
        priorities in proptest::array::uniform6(0u8..4),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let mut k = Kernel::new();
        let mut model = Model { queues: (0..NR_PRIORITIES).map(|_| VecDeque::new()).collect(), priority: priorities };
        for (s, &priority) in priorities.iter().enumerate() {
            assert_eq!(k.spawn("p", priority, Privileges::all()).unwrap(), s);
            model.enqueue(s);
        }
        for op in &ops {
            match *op {
                Op::Enqueue(s) => {
                    k.run_queues.enqueue(&mut k.procs, s);
                    model.enqueue(s);
                }
                Op::Dequeue(s) => {
                    k.block(s);
                    model.dequeue(s);
                }
                Op::Rotate(s) => {
                    k.run_queues.rotate(&mut k.procs, s);
                    model.dequeue(s);
                    model.enqueue(s);
                }
                Op::RunFirst => {
                    assert_eq!(k.run_next(), model.first());
                    assert_eq!(k.run_queues.running(), model.first());
                }
                Op::Pass(to) => {
                    // Only from the running process to a blocked one, as
                    // the fast path calls it.
                    let Some(from) = k.run_queues.running() else { continue };
                    if model.queued(to) {
                        continue;
                    }
                    let passed = k.run_queues.pass_running(&k.procs, from, to);
                    if passed {
                        model.dequeue(from);
                        model.enqueue(to);
                        assert_eq!(model.first(), Some(to), "passed to a process the scheduler would not choose");
                    } else {
                        // The fast path then does it the general way.
                        let mut wake_first = model.queues.clone();
                        wake_first.iter_mut().for_each(|q| q.retain(|&x| x != from));
                        wake_first[usize::from(priorities[to])].push_back(to);
                        let first = wake_first.iter().find_map(|q| q.front().copied());
                        assert_ne!(first, Some(to), "not passed to the process the scheduler would choose");
                        k.run_queues.enqueue(&mut k.procs, to);
                        k.block(from);
                        model.enqueue(to);
                        model.dequeue(from);
                    }
                }
            }
            check(&k, &model);
        }
    }
}

/// The running process goes back to the front of its queue when a
/// process of a higher priority is chosen over it, and to the back when
/// its quantum runs out: the order the linked queues had.
#[test]
fn preempted_goes_back_first_and_expired_goes_back_last() {
    let mut k = Kernel::new();
    let a = k.spawn("a", 4, Privileges::all()).unwrap();
    let b = k.spawn("b", 4, Privileges::all()).unwrap();
    let high = k.spawn("high", 2, Privileges::all()).unwrap();
    k.block(high);
    assert_eq!(k.run_next(), Some(a));
    assert!(!k.procs[a].queued);
    // A higher priority wakes: it runs, and a is first of its queue again.
    k.run_queues.enqueue(&mut k.procs, high);
    assert_eq!(k.run_next(), Some(high));
    assert_eq!(k.run_queues.order(&k.procs)[4], [a, b]);
    assert!(k.procs[a].queued && !k.procs[high].queued);
    k.block(high);
    assert_eq!(k.run_next(), Some(a));
    // Its quantum runs out: b's turn, a behind it.
    for _ in 0..QUANTUM_TICKS {
        k.tick(a);
    }
    assert_eq!(k.run_queues.order(&k.procs)[4], [b, a]);
    assert_eq!(k.run_next(), Some(b));
    // b exits while running: nothing runs until the scheduler chooses a.
    let mut m = FakeMemory::default();
    k.exit(&mut m, b);
    assert_eq!(k.run_queues.running(), None);
    assert_eq!(k.run_next(), Some(a));
    // A hung process never runs, even when woken.
    k.hang(a);
    k.run_queues.enqueue(&mut k.procs, a);
    assert_eq!((k.run_queues.running(), k.run_next()), (None, None));
}
