//! Leader election: voting (once per epoch, first come first served) and
//! counting votes for a failover epoch.

use std::collections::BTreeMap;

use super::action::EventLevel;
use super::instance::Master;
use super::Ctx;

/// Votes for `req_run_id` as leader of a failover of `m` in `req_epoch`,
/// unless this sentinel already voted in that epoch. Returns the vote this
/// sentinel holds for `m` and its epoch.
pub(crate) fn vote_leader(
    ctx: &mut Ctx,
    m: &mut Master,
    req_epoch: u64,
    req_run_id: &str,
    now: u64,
) -> (Option<String>, u64) {
    let script = m.conf.notification_script.clone();
    if req_epoch > ctx.current_epoch {
        ctx.current_epoch = req_epoch;
        ctx.flush_config();
        let text = ctx.current_epoch.to_string();
        ctx.event(EventLevel::Warning, "+new-epoch", text, script.as_deref());
    }
    if m.leader_epoch < req_epoch && ctx.current_epoch <= req_epoch {
        m.leader = Some(req_run_id.to_string());
        m.leader_epoch = ctx.current_epoch;
        ctx.flush_config();
        let text = format!("{} {}", req_run_id, m.leader_epoch);
        ctx.event(
            EventLevel::Warning,
            "+vote-for-leader",
            text,
            script.as_deref(),
        );
        // Voting for someone else delays our own failover attempt.
        if !req_run_id.eq_ignore_ascii_case(&ctx.myid) {
            m.failover_start_time = Some(now.saturating_add(ctx.desync()));
        }
    }
    (m.leader.clone(), m.leader_epoch)
}

/// The votes needed to win: a majority of all known sentinels (self
/// included) and at least the quorum.
pub fn votes_needed(known_sentinels_including_self: usize, quorum: u32) -> u64 {
    let majority = (known_sentinels_including_self / 2 + 1) as u64;
    majority.max(u64::from(quorum))
}

/// Counts the votes for `epoch` (casting ours for the most voted sentinel,
/// or for ourselves) and returns the winner if it has enough votes.
pub(crate) fn get_leader(ctx: &mut Ctx, m: &mut Master, epoch: u64, now: u64) -> Option<String> {
    let voters = m.sentinels.len() + 1;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for p in &m.sentinels {
        if let Some(leader) = &p.leader {
            if p.leader_epoch == ctx.current_epoch {
                *counts.entry(leader.clone()).or_default() += 1;
            }
        }
    }
    let mut winner: Option<String> = None;
    let mut max_votes = 0;
    for (run_id, &votes) in &counts {
        if votes > max_votes {
            max_votes = votes;
            winner = Some(run_id.clone());
        }
    }
    let candidate = winner.clone().unwrap_or_else(|| ctx.myid.clone());
    let (my_vote, vote_epoch) = vote_leader(ctx, m, epoch, &candidate, now);
    if let Some(my_vote) = my_vote.filter(|_| vote_epoch == epoch) {
        let votes = counts.entry(my_vote.clone()).or_default();
        *votes += 1;
        if *votes > max_votes {
            max_votes = *votes;
            winner = Some(my_vote);
        }
    }
    winner.filter(|_| max_votes >= votes_needed(voters, m.conf.quorum))
}
