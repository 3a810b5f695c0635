//! The deterministic draw: one experiment's fault plan from (campaign seed,
//! experiment index).
//!
//! Every value comes from `abi::fault::next_random` (the PRNG the kernel
//! also uses) seeded by the campaign seed mixed with the experiment index,
//! never from a shared stream. So experiment 17 draws the same plan in an
//! unsharded run, in shard 2/3, in a replay, or on another machine, and a
//! CI matrix or a Kubernetes Indexed Job can split a campaign without
//! coordinating. Values are drawn in a fixed order documented in
//! `docs/campaigns.md`; changing that order changes every campaign's
//! experiments, so it is covered by a test with pinned values. The draws
//! of SWIFI templates (fault type, mutation seed) come last, so adding
//! them left every other campaign's plans as they were.

use abi::fault::{next_random, Rule, ANY_PROGRAM, ANY_TYPE};
use serde::{Deserialize, Serialize};

use super::file::{action_by_name, Campaign, FaultSpec, Side, SWIFI_ACTION};
use crate::inject::swifi::SwifiSpec;

/// A PRNG stream for one experiment.
#[derive(Debug, Clone)]
pub struct Draw {
    state: u64,
}

impl Draw {
    /// The stream of experiment `index` of a campaign with `seed`.
    pub fn for_experiment(seed: u64, index: u32) -> Draw {
        // Mix the index in with a large odd constant so neighbouring
        // experiments start far apart; xorshift must not start at 0.
        let mut state = seed ^ (u64::from(index) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        if state == 0 {
            state = 0x2545_F491_4F6C_DD1D;
        }
        let mut draw = Draw { state };
        for _ in 0..4 {
            draw.next_u32();
        }
        draw
    }

    /// The next 32-bit draw.
    pub fn next_u32(&mut self) -> u32 {
        let (state, value) = next_random(self.state);
        self.state = state;
        value
    }

    /// The next 64-bit draw (two 32-bit draws, high word first).
    pub fn next_u64(&mut self) -> u64 {
        let high = u64::from(self.next_u32());
        high << 32 | u64::from(self.next_u32())
    }

    /// A value in `lo..=hi` (one 64-bit draw, even when `lo == hi`, so the
    /// number of draws never depends on the ranges).
    pub fn in_range(&mut self, lo: u64, hi: u64) -> u64 {
        let x = self.next_u64();
        match (hi - lo).checked_add(1) {
            Some(span) => lo + x % span,
            None => x,
        }
    }

    /// An index below `len` (`len` > 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.in_range(0, len as u64 - 1) as usize
    }
}

/// One drawn rule, with names kept for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedRule {
    /// Which `[[fault]]` template it came from (0-based).
    pub template: usize,
    /// The target program's name.
    pub target: String,
    /// The other end's name, if the template names peers.
    pub peer: Option<String>,
    /// Action name (`abi::fault::Action::name`).
    pub action: String,
    pub source: u8,
    pub destination: u8,
    pub primitives: u8,
    pub mtype: u32,
    pub nth: u32,
    pub limit: u32,
    pub probability: u32,
    pub arg_a: u32,
    pub arg_b: u64,
    pub not_before: u64,
    pub not_after: u64,
}

impl PlannedRule {
    /// The rule in the ABI's form.
    pub fn to_rule(&self) -> Rule {
        let action = action_by_name(&self.action).unwrap_or(abi::fault::Action::Drop);
        Rule {
            source: self.source,
            destination: self.destination,
            primitives: self.primitives,
            action,
            mtype: self.mtype,
            nth: self.nth,
            limit: self.limit,
            probability: self.probability,
            arg_a: self.arg_a,
            arg_b: self.arg_b,
            not_before: self.not_before,
            not_after: self.not_after,
        }
    }

    /// A short description: "crash tty nth 3".
    pub fn describe(&self) -> String {
        self.describe_as(&self.action)
    }

    /// The description with `action` in place of the action's name.
    fn describe_as(&self, action: &str) -> String {
        let mut text = format!("{action} {}", self.target);
        if let Some(peer) = &self.peer {
            text += &format!(" from/to {peer}");
        }
        if self.mtype != ANY_TYPE {
            text += &format!(" type {:#x}", self.mtype);
        }
        if self.nth != 0 {
            text += &format!(" nth {}", self.nth);
        }
        if self.not_before != 0 {
            text += &format!(" after tick {}", self.not_before);
        }
        if self.probability != u32::MAX {
            text += &format!(" p {:.3}", f64::from(self.probability) / f64::from(u32::MAX));
        }
        text
    }
}

/// One experiment's fault plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The kernel PRNG's seed for this experiment.
    pub seed: u64,
    /// The rules (one per experiment today).
    pub rules: Vec<PlannedRule>,
    /// The code mutation at the rules' Stops (SWIFI templates only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swifi: Option<SwifiSpec>,
}

impl Plan {
    /// A short description of the plan ("swifi nop blk nth 3" for the
    /// Stop of a SWIFI template).
    pub fn describe(&self) -> String {
        let describe = |r: &PlannedRule| match self.swifi {
            Some(s) if r.action == abi::fault::Action::Stop.name() => {
                r.describe_as(&format!("swifi {}", s.kind.name()))
            }
            _ => r.describe(),
        };
        self.rules.iter().map(describe).collect::<Vec<_>>().join("; ")
    }

    /// The drawn target of the first rule.
    pub fn target(&self) -> Option<&str> {
        self.rules.first().map(|r| r.target.as_str())
    }
}

/// A probability as the kernel's u32 threshold (`u32::MAX` = always).
fn threshold(p: f64) -> u32 {
    if p >= 1.0 {
        u32::MAX
    } else {
        (p * f64::from(u32::MAX)).round() as u32
    }
}

/// Draws the rule of template `spec`.
fn draw_rule(draw: &mut Draw, template: usize, spec: &FaultSpec) -> PlannedRule {
    let target = &spec.targets[draw.index(spec.targets.len())];
    let peer = (!spec.peers.is_empty()).then(|| spec.peers[draw.index(spec.peers.len())].clone());
    let action_name = spec.actions[draw.index(spec.actions.len())].clone();
    let mtype =
        if spec.message_types.is_empty() { ANY_TYPE } else { spec.message_types[draw.index(spec.message_types.len())] };
    let nth = draw.in_range(spec.nth.0.into(), spec.nth.1.into()) as u32;
    let not_before = draw.in_range(spec.ticks.0, spec.ticks.1);
    let p = {
        let unit = f64::from(draw.next_u32()) / f64::from(u32::MAX);
        spec.probability.0 + (spec.probability.1 - spec.probability.0) * unit
    };
    let arg_a = draw.in_range(spec.arg_a.0.into(), spec.arg_a.1.into()) as u32;
    let mut arg_b = draw.in_range(spec.arg_b.0, spec.arg_b.1);
    if let Some(bits) = spec.bits {
        arg_b = 0;
        while arg_b.count_ones() < bits {
            arg_b |= 1 << (draw.next_u32() % 64);
        }
    }
    // A SWIFI template's rule is a Stop; the host mutates at it.
    let swifi = action_name == SWIFI_ACTION;
    let action =
        if swifi { abi::fault::Action::Stop } else { action_by_name(&action_name).unwrap_or(abi::fault::Action::Drop) };
    let peer_id = peer.as_ref().map_or(ANY_PROGRAM, |p| p.id);
    let (source, destination) = match spec.side {
        Side::Destination => (peer_id, target.id),
        Side::Source => {
            // Crash, hang and a SWIFI Stop act on the source when B = 1.
            if matches!(action, abi::fault::Action::Crash | abi::fault::Action::Hang) || swifi {
                arg_b = 1;
            }
            (target.id, peer_id)
        }
    };
    PlannedRule {
        template,
        target: target.name.clone(),
        peer: peer.map(|p| p.name),
        action: if swifi { action.name().to_string() } else { action_name },
        source,
        destination,
        primitives: spec.primitives,
        mtype,
        nth,
        limit: spec.limit,
        probability: threshold(p),
        arg_a,
        arg_b,
        not_before,
        not_after: if spec.window == 0 { 0 } else { not_before.saturating_add(spec.window) },
    }
}

/// The plan of experiment `index` of `campaign`.
pub fn plan(campaign: &Campaign, index: u32) -> Plan {
    let mut draw = Draw::for_experiment(campaign.seed, index);
    let seed = draw.next_u64();
    let template = draw.index(campaign.faults.len());
    let spec = &campaign.faults[template];
    let rule = draw_rule(&mut draw, template, spec);
    let swifi = (!spec.swifi.is_empty()).then(|| {
        let kind = spec.swifi[draw.index(spec.swifi.len())];
        SwifiSpec { kind, seed: draw.next_u64() }
    });
    Plan { seed, rules: vec![rule], swifi }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::file::tests_support::campaign_with;

    #[test]
    fn draws_depend_only_on_seed_and_index() {
        let c = campaign_with("nth = [1, 100]\nticks = [0, 50]\nprobability = [0.25, 1.0]\n");
        let all: Vec<Plan> = (0..50).map(|i| plan(&c, i)).collect();
        // In any order, any subset, the same plans.
        for i in (0..50).rev() {
            assert_eq!(plan(&c, i), all[i as usize]);
        }
        // Different experiments differ.
        let distinct: std::collections::BTreeSet<_> = all.iter().map(|p| (p.seed, p.rules[0].nth)).collect();
        assert!(distinct.len() > 45, "{distinct:?}");
        for p in &all {
            let r = &p.rules[0];
            assert!((1..=100).contains(&r.nth) && r.not_before <= 50, "{r:?}");
            assert!(r.probability >= u32::MAX / 4 - 1, "{r:?}");
            assert!(r.action == "crash" || r.action == "hang");
            assert_eq!(r.destination, 4, "tty is program 4");
            assert_eq!(r.source, ANY_PROGRAM);
        }
        let other = Campaign { seed: c.seed + 1, ..c.clone() };
        assert_ne!(plan(&other, 0), all[0]);
    }

    #[test]
    fn the_draw_order_is_pinned() {
        // Changing the draw changes every campaign's experiments: this
        // must be a conscious decision (and a docs/campaigns.md update).
        let mut d = Draw::for_experiment(7, 3);
        assert_eq!([d.next_u32(), d.next_u32()], [2_383_345_511, 2_898_197_243]);
        assert_eq!(Draw::for_experiment(0, u32::MAX).in_range(5, 5), 5);
        assert!(Draw::for_experiment(1, 1).in_range(0, u64::MAX) > 0);
        let c = campaign_with("nth = [1, 9]\n");
        let p = plan(&c, 0);
        assert_eq!(p.seed, 14_886_661_494_063_123_383, "campaign seed 42, experiment 0");
        assert_eq!(p.rules[0].to_rule().nth, p.rules[0].nth);
        assert_eq!(p.swifi, None);
        // Values drawn before SWIFI templates existed: they must not move.
        let c = campaign_with("nth = [1, 9]\nticks = [0, 50]\nprobability = [0.25, 1.0]\n");
        let pinned = |i: u32| {
            let p = plan(&c, i);
            let r = &p.rules[0];
            (p.seed, r.action.clone(), r.nth, r.not_before, r.probability)
        };
        assert_eq!(pinned(0), (14_886_661_494_063_123_383, "crash".into(), 2, 21, 1_156_263_106));
        assert_eq!(pinned(1), (3_952_414_385_114_368_894, "crash".into(), 4, 10, 1_581_587_712));
        assert_eq!(pinned(7), (13_081_751_724_038_200_386, "hang".into(), 3, 46, 3_950_410_506));
    }

    #[test]
    fn swifi_draws_come_after_the_rule_and_are_pinned() {
        use crate::inject::swifi::FaultType;
        let mut swifi = campaign_with("nth = [1, 9]\n");
        swifi.faults[0].actions = vec!["swifi".into()];
        swifi.faults[0].swifi = FaultType::ALL.to_vec();
        let mut stop = swifi.clone();
        stop.faults[0].actions = vec!["stop".into()];
        stop.faults[0].swifi = Vec::new();
        for i in 0..20 {
            // The rule is the Stop that the same template with "stop" draws.
            let (p, q) = (plan(&swifi, i), plan(&stop, i));
            assert_eq!((p.seed, &p.rules), (q.seed, &q.rules));
            assert_eq!(p.rules[0].to_rule().action, abi::fault::Action::Stop);
            assert!(p.swifi.is_some() && q.swifi.is_none());
        }
        let p = plan(&swifi, 0);
        let s = p.swifi.unwrap();
        assert_eq!((s.kind, s.seed), (FaultType::Nop, 13_234_790_473_297_785_113), "campaign seed 42, experiment 0");
        assert_eq!(p.describe(), format!("swifi nop tty nth {}", p.rules[0].nth));
        let kinds: std::collections::HashSet<_> = (0..40).map(|i| plan(&swifi, i).swifi.unwrap().kind).collect();
        assert_eq!(kinds.len(), FaultType::ALL.len(), "every type is drawn");
    }

    #[test]
    fn bits_masks_and_source_side() {
        let c = campaign_with("side = \"source\"\nbits = 3\n");
        for i in 0..20 {
            let r = &plan(&c, i).rules[0];
            assert_eq!(r.source, 4);
            assert_eq!(r.destination, ANY_PROGRAM);
            // crash/hang on the source side target the sender.
            assert_eq!(r.arg_b, 1, "{r:?}");
        }
        let c = campaign_with("bits = 3\n").clone();
        let mut c = c;
        c.faults[0].actions = vec!["flip_bits".into()];
        for i in 0..20 {
            assert_eq!(plan(&c, i).rules[0].arg_b.count_ones(), 3);
        }
    }
}
