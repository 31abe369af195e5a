//! Connection health, IO-free: is there a working connection to the server, and has the
//! server confirmed everything? Drivers report what happened, with the time, and carry out
//! the [`Action`]s they get back; they call [`Monitor::tick`] when [`Monitor::next_wakeup`]
//! comes (or on any timer). The browser driver and the native client share it.
//!
//! ## Why a heartbeat
//!
//! Nothing flows on an idle automerge-repo connection, and a connection whose network
//! silently vanished (a phone leaving coverage, a NAT or proxy dropping its state) looks
//! exactly like an idle one: no error and no close, often for minutes. So a client expects
//! to hear from the server. After [`Policy::ping_after`] of silence it sends a heartbeat;
//! once [`Policy::dead_after`] has passed with nothing received (and the heartbeat has had
//! `dead_after - ping_after` to be answered, so a client whose timers were throttled is
//! not declared dead for its own lateness) the connection is dead: the driver closes it
//! and reconnects with backoff and jitter. Any inbound frame counts as a sign of life.
//!
//! What a heartbeat is depends on the transport:
//! - **Native clients** send WebSocket Ping frames; every WebSocket server answers Pong
//!   (ours, and the reference automerge-repo server alike).
//! - **Browsers** can neither send Ping frames nor observe the Pongs they send for the
//!   server's pings. So the PWA sends the Fieldbook message `{"type":"fieldbook-heartbeat"}`
//!   ([`crate::Message::Heartbeat`]), and the server's connection task (not the sync actor,
//!   so a busy disk does not look like a dead link) answers with the same message at once.
//!   The client sends it only to a server that advertised `fieldbookHeartbeat: true` in its
//!   `peer` message, and the server answers only a connection that sent one, so stock
//!   automerge-repo 2.5.6 peers never receive it (the extra top-level key in `peer` is
//!   ignored by its `WebSocketClientAdapter`, which reads only `senderId` and
//!   `peerMetadata`; were one ever to reach a stock peer, its `NetworkSubsystem` drops
//!   messages whose type fails `isRepoMessage`).
//!
//! A message counts only once it has fully arrived, so one large sync message on a slow link
//! looks like silence. A connection declared dead while the server still owed us data
//! therefore earns the next one a doubled timeout (up to 16×), reset once the server has
//! confirmed everything; silence on an idle connection never lengthens it.
//!
//! The server, for its part, sends WebSocket Pings and closes connections that have sent
//! nothing (not even a Pong) for its idle timeout, so half-open sockets are reaped.

use crate::engine::Millis;

/// Timings. The defaults notice a silently dropped connection within 3.5 s of the last
/// thing received (the PWA must show Offline within 5 s), and leave an answer 2 s to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Send a heartbeat after this long with nothing received.
    pub ping_after: Millis,
    /// Declare the connection dead after this long with nothing received.
    pub dead_after: Millis,
    /// Give up on a connection attempt (socket open and handshake) after this long.
    pub connect_timeout: Millis,
    /// Backoff before reconnecting: up to this after the first failure, doubling per
    /// further failure up to `retry_max`, with full jitter so many phones regaining signal
    /// at once do not all dial in the same instant.
    pub retry_first: Millis,
    pub retry_max: Millis,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            ping_after: 1_500,
            dead_after: 3_500,
            connect_timeout: 10_000,
            retry_first: 1_000,
            retry_max: 30_000,
        }
    }
}

/// Liveness of one open connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    policy: Policy,
    last_rx: Millis,
    ping_sent: Option<Millis>,
}

/// What [`Heartbeat::poll`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Send a heartbeat now.
    Ping,
    /// Nothing arrived in time: the connection is dead; close it.
    Dead,
}

impl Heartbeat {
    /// Start watching a connection that is open at `now`.
    pub fn new(policy: Policy, now: Millis) -> Self {
        Heartbeat {
            policy,
            last_rx: now,
            ping_sent: None,
        }
    }

    /// Anything arrived (a message, a Pong, a heartbeat answer).
    pub fn received(&mut self, now: Millis) {
        self.last_rx = self.last_rx.max(now);
        self.ping_sent = None;
    }

    pub fn poll(&mut self, now: Millis) -> Option<Beat> {
        let silent = now.saturating_sub(self.last_rx);
        match self.ping_sent {
            None if silent >= self.policy.ping_after => {
                self.ping_sent = Some(now);
                Some(Beat::Ping)
            }
            Some(sent)
                if silent >= self.policy.dead_after
                    && now.saturating_sub(sent) >= self.answer_window() =>
            {
                Some(Beat::Dead)
            }
            _ => None,
        }
    }

    /// When [`Heartbeat::poll`] next has something to do.
    pub fn next_wakeup(&self) -> Millis {
        match self.ping_sent {
            None => self.last_rx + self.policy.ping_after,
            Some(sent) => (self.last_rx + self.policy.dead_after).max(sent + self.answer_window()),
        }
    }

    fn answer_window(&self) -> Millis {
        self.policy
            .dead_after
            .saturating_sub(self.policy.ping_after)
            .max(1)
    }
}

/// What the UI shows about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The device says it is offline, or there is no working connection (including while
    /// retrying after one failed).
    Offline,
    /// A first attempt (at start, or when the device came online) or an open socket
    /// waiting for the handshake.
    Connecting,
    /// Connected; the server has not yet confirmed everything, or we are still fetching.
    Sending,
    /// Connected, and the server has confirmed everything; `at` is when it last did.
    EverythingSent { at: Millis },
}

/// Why the monitor asks for a connection to be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Nothing arrived within the heartbeat timeout.
    Silent,
    /// The socket did not open, or the handshake did not finish, in time.
    ConnectTimeout,
    /// The device went offline.
    WentOffline,
}

impl CloseReason {
    pub fn describe(self) -> &'static str {
        match self {
            CloseReason::Silent => "no traffic from the server: connection presumed dead",
            CloseReason::ConnectTimeout => "connection attempt timed out",
            CloseReason::WentOffline => "the device went offline",
        }
    }
}

/// What a driver must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Open a connection now, then report [`Monitor::opened`] (or [`Monitor::closed`]).
    Dial,
    /// Send a heartbeat on the open connection.
    Ping,
    /// Close the current connection (or abandon the attempt). The monitor has already
    /// counted it as closed: do not also report [`Monitor::closed`] for it.
    Close(CloseReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// No connection; dial at `retry_at` if online.
    Down { retry_at: Option<Millis> },
    /// Dialing since `since`: the socket is not open yet.
    Dialing { since: Millis },
    /// The socket is open; `joined` once the handshake finished.
    Up {
        since: Millis,
        joined: bool,
        heartbeat: Option<Heartbeat>,
    },
}

/// The connection lifecycle of a client that reconnects by itself (the browser app).
#[derive(Debug, Clone)]
pub struct Monitor {
    policy: Policy,
    online: bool,
    link: Link,
    /// Consecutive connections that failed or were lost; reset by a finished handshake.
    failures: u32,
    rng: u64,
    pending: bool,
    last_ack: Option<Millis>,
    /// Connections declared dead while the server still owed us something: a single large
    /// message on a slow link arrives only when complete, and looks like silence. Each such
    /// death doubles the next connection's `dead_after` (at most 2^4); the server confirming
    /// everything resets it. An idle connection's silence never adds patience, so a link
    /// that dropped while idle is still noticed within `dead_after`.
    patience: u32,
}

impl Monitor {
    /// Starts down and online, due to dial at the first [`Monitor::tick`]. `seed` feeds the
    /// backoff jitter (any value; use something random in production).
    pub fn new(policy: Policy, seed: u64) -> Self {
        Monitor {
            policy,
            online: true,
            link: Link::Down { retry_at: Some(0) },
            failures: 0,
            rng: seed | 1,
            pending: false,
            last_ack: None,
            patience: 0,
        }
    }

    /// The heartbeat timings for the next connection (see `patience`).
    fn heartbeat_policy(&self) -> Policy {
        Policy {
            dead_after: self.policy.dead_after.saturating_mul(1 << self.patience),
            ..self.policy
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn status(&self) -> Status {
        if !self.online {
            return Status::Offline;
        }
        match self.link {
            Link::Down { .. } => Status::Offline,
            Link::Dialing { .. } if self.failures > 0 => Status::Offline,
            Link::Dialing { .. } | Link::Up { joined: false, .. } => Status::Connecting,
            Link::Up { joined: true, .. } => match self.last_ack {
                Some(at) if !self.pending => Status::EverythingSent { at },
                _ => Status::Sending,
            },
        }
    }

    /// Whether a connection is open and past its handshake.
    pub fn is_connected(&self) -> bool {
        matches!(self.link, Link::Up { joined: true, .. })
    }

    /// The device's own view of the network (the browser's `online`/`offline` events).
    /// Going offline closes the connection at once and stops dialing; coming online dials
    /// at once with the backoff reset.
    pub fn set_online(&mut self, online: bool, now: Millis) -> Vec<Action> {
        let was = self.online;
        self.online = online;
        let mut actions = Vec::new();
        if !online {
            if !matches!(self.link, Link::Down { .. }) {
                actions.push(Action::Close(CloseReason::WentOffline));
            }
            self.link = Link::Down { retry_at: None };
        } else if !was {
            self.failures = 0;
            if let Link::Down { .. } = self.link {
                self.link = Link::Down {
                    retry_at: Some(now),
                };
                actions.extend(self.tick(now));
            }
        }
        actions
    }

    /// The socket opened (the handshake is under way).
    pub fn opened(&mut self, now: Millis) {
        if let Link::Dialing { .. } = self.link {
            self.link = Link::Up {
                since: now,
                joined: false,
                heartbeat: None,
            };
        }
    }

    /// The handshake finished. `heartbeat`: the server answers heartbeats (a native client
    /// using WebSocket Pings passes `true`), so silence can be detected.
    pub fn joined(&mut self, now: Millis, heartbeat: bool) {
        if let Link::Up { since, .. } = self.link {
            self.link = Link::Up {
                since,
                joined: true,
                heartbeat: heartbeat.then(|| Heartbeat::new(self.heartbeat_policy(), now)),
            };
            self.failures = 0;
        }
    }

    /// Anything arrived on the open connection.
    pub fn received(&mut self, now: Millis) {
        if let Link::Up {
            heartbeat: Some(hb),
            ..
        } = &mut self.link
        {
            hb.received(now);
        }
    }

    /// The connection closed or the attempt failed (not on the monitor's own request).
    pub fn closed(&mut self, now: Millis) {
        if matches!(self.link, Link::Down { .. }) {
            return;
        }
        self.lost(now);
    }

    /// Whether the server has yet to confirm something (unacknowledged changes, or
    /// documents still being fetched). Call after every batch of work.
    pub fn set_pending(&mut self, pending: bool, now: Millis) {
        if self.is_connected() && !pending && (self.pending || self.last_ack.is_none()) {
            self.last_ack = Some(now);
        }
        if self.is_connected() && !pending {
            self.patience = 0;
        }
        self.pending = pending;
    }

    /// When the last "everything confirmed" was seen on a live connection.
    pub fn last_ack(&self) -> Option<Millis> {
        self.last_ack
    }

    /// Advance time: dial when due, ping, or give up on a silent or stuck connection.
    pub fn tick(&mut self, now: Millis) -> Vec<Action> {
        let mut actions = Vec::new();
        match &mut self.link {
            Link::Down { retry_at: Some(at) } if self.online && now >= *at => {
                self.link = Link::Dialing { since: now };
                actions.push(Action::Dial);
            }
            Link::Down { .. } => {}
            Link::Dialing { since }
            | Link::Up {
                since,
                joined: false,
                ..
            } => {
                if now.saturating_sub(*since) >= self.policy.connect_timeout {
                    actions.push(Action::Close(CloseReason::ConnectTimeout));
                    self.lost(now);
                }
            }
            Link::Up {
                heartbeat: Some(hb),
                ..
            } => match hb.poll(now) {
                Some(Beat::Ping) => actions.push(Action::Ping),
                Some(Beat::Dead) => {
                    actions.push(Action::Close(CloseReason::Silent));
                    if self.pending {
                        self.patience = (self.patience + 1).min(4);
                    }
                    self.lost(now);
                }
                None => {}
            },
            Link::Up {
                heartbeat: None, ..
            } => {}
        }
        actions
    }

    /// When [`Monitor::tick`] next has something to do (`None`: only on an input).
    pub fn next_wakeup(&self) -> Option<Millis> {
        match &self.link {
            Link::Down { retry_at } => retry_at.filter(|_| self.online),
            Link::Dialing { since }
            | Link::Up {
                since,
                joined: false,
                ..
            } => Some(since + self.policy.connect_timeout),
            Link::Up {
                heartbeat: Some(hb),
                ..
            } => Some(hb.next_wakeup()),
            Link::Up {
                heartbeat: None, ..
            } => None,
        }
    }

    fn lost(&mut self, now: Millis) {
        self.failures = self.failures.saturating_add(1);
        let retry_at = self.online.then(|| now + self.backoff());
        self.link = Link::Down { retry_at };
    }

    /// 250 ms plus a uniformly random part of `retry_first · 2^(failures-1)`, capped.
    fn backoff(&mut self) -> Millis {
        let shift = self.failures.saturating_sub(1).min(20);
        let cap = self
            .policy
            .retry_first
            .saturating_mul(1 << shift)
            .min(self.policy.retry_max)
            .max(1);
        // xorshift64: deterministic for a seed, good enough for jitter.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        250 + self.rng % cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::default()
    }

    /// A monitor that dialed at 0, opened at 10 and joined at 20.
    fn connected(heartbeat: bool) -> Monitor {
        let mut m = Monitor::new(policy(), 42);
        assert_eq!(m.status(), Status::Offline, "nothing tried yet");
        assert_eq!(m.tick(0), vec![Action::Dial]);
        assert_eq!(m.status(), Status::Connecting);
        m.opened(10);
        assert_eq!(m.status(), Status::Connecting);
        m.joined(20, heartbeat);
        m
    }

    /// Run ticks exactly at each wakeup until `until`, collecting (time, action).
    fn run(m: &mut Monitor, until: Millis) -> Vec<(Millis, Action)> {
        let mut seen = Vec::new();
        while let Some(at) = m.next_wakeup() {
            if at > until {
                break;
            }
            for a in m.tick(at) {
                seen.push((at, a));
            }
        }
        seen
    }

    /// When the monitor, left alone, declares the connection dead (after `from`).
    fn dies_at(m: &mut Monitor, from: Millis) -> Millis {
        while let Some(at) = m.next_wakeup().filter(|at| *at <= from + 600_000) {
            if m.tick(at).contains(&Action::Close(CloseReason::Silent)) {
                return at;
            }
        }
        panic!("never declared dead")
    }

    /// Dial and join again once the backoff allows.
    fn rejoin(m: &mut Monitor, now: Millis) -> Millis {
        let at = m.next_wakeup().expect("retry scheduled").max(now);
        assert_eq!(m.tick(at), vec![Action::Dial]);
        m.opened(at);
        m.joined(at, true);
        at
    }

    #[test]
    fn silence_while_the_server_owes_data_earns_patience_idle_silence_does_not() {
        let d = policy().dead_after;
        // Idle (nothing owed): dead after exactly `dead_after`, every time.
        let mut m = connected(true);
        m.set_pending(false, 20);
        assert_eq!(dies_at(&mut m, 20), 20 + d);
        let t = rejoin(&mut m, 20 + d);
        assert_eq!(dies_at(&mut m, t), t + d, "idle deaths add no patience");

        // Waiting for the server (a large message may be arriving): each death doubles the
        // next connection's timeout...
        let mut m = connected(true);
        m.set_pending(true, 20);
        assert_eq!(dies_at(&mut m, 20), 20 + d);
        let t = rejoin(&mut m, 20 + d);
        m.set_pending(true, t);
        assert_eq!(dies_at(&mut m, t), t + 2 * d);
        let t = rejoin(&mut m, t + 2 * d);
        m.set_pending(true, t);
        assert_eq!(dies_at(&mut m, t), t + 4 * d);
        // ...until the server has confirmed everything: back to the quick timeout next time.
        let t = rejoin(&mut m, t + 4 * d);
        m.set_pending(false, t);
        assert_eq!(
            dies_at(&mut m, t),
            t + 8 * d,
            "this connection keeps its timeout"
        );
        let t = rejoin(&mut m, t + 8 * d);
        assert_eq!(dies_at(&mut m, t), t + d);
    }

    #[test]
    fn an_idle_connection_pings_when_quiet_and_stays_up_while_answered() {
        let p = policy();
        let mut m = connected(true);
        m.set_pending(false, 20);
        assert_eq!(m.status(), Status::EverythingSent { at: 20 });
        let mut now = 20;
        for _ in 0..10 {
            let wake = m.next_wakeup().unwrap();
            assert_eq!(wake, now + p.ping_after, "ping after the idle period");
            assert_eq!(m.tick(wake), vec![Action::Ping]);
            // The answer comes back 150 ms later.
            now = wake + 150;
            m.received(now);
        }
        assert!(m.is_connected());
        assert_eq!(m.status(), Status::EverythingSent { at: 20 });
    }

    #[test]
    fn traffic_postpones_the_heartbeat() {
        let mut m = connected(true);
        for t in (500..10_000).step_by(500) {
            m.received(t);
            assert_eq!(m.tick(t), vec![]);
        }
        assert_eq!(m.next_wakeup(), Some(9_500 + policy().ping_after));
    }

    #[test]
    fn a_silently_dropped_connection_is_declared_dead_after_the_timeout() {
        let p = policy();
        let mut m = connected(true);
        m.received(1_000);
        // From here the network swallows everything: nothing more is received.
        let seen = run(&mut m, 20_000);
        assert_eq!(seen[0], (1_000 + p.ping_after, Action::Ping));
        let dead = 1_000 + p.dead_after;
        assert_eq!(seen[1], (dead, Action::Close(CloseReason::Silent)));
        assert!(dead < 1_000 + 5_000, "well inside the 5 s the app promises");
        assert_eq!(m.status(), Status::Offline);
        assert!(!m.is_connected());
        // It then redials after a jittered backoff of at most 1.25 s...
        let (at, action) = seen[2];
        assert_eq!(action, Action::Dial);
        assert!((dead + 250..=dead + 1_250).contains(&at), "redial at {at}");
        // ...and while the attempts go nowhere the status stays Offline, not "Connecting".
        assert_eq!(m.status(), Status::Offline);
    }

    #[test]
    fn no_message_is_ever_missed_by_more_than_the_timeout_at_any_phase() {
        // Whenever the drop happens relative to the ping cycle, death is declared no later
        // than `dead_after` after the last thing received.
        for drop_at in (20..4_000).step_by(97) {
            let mut m = connected(true);
            let mut last_rx = 20;
            // Healthy until drop_at: pings answered after 100 ms.
            while let Some(at) = m.next_wakeup() {
                if at >= drop_at {
                    break;
                }
                if m.tick(at) == vec![Action::Ping] && at + 100 < drop_at {
                    m.received(at + 100);
                    last_rx = at + 100;
                }
            }
            let dead = run(&mut m, drop_at + 10_000)
                .into_iter()
                .find(|(_, a)| *a == Action::Close(CloseReason::Silent))
                .expect("declared dead")
                .0;
            assert_eq!(dead, last_rx + policy().dead_after, "drop at {drop_at}");
        }
    }

    #[test]
    fn a_late_timer_sends_a_heartbeat_before_declaring_the_connection_dead() {
        // A throttled background tab wakes 60 s later: the silence is its own fault, so the
        // server gets a chance to answer first.
        let p = policy();
        let window = p.dead_after - p.ping_after;
        let mut m = connected(true);
        assert_eq!(m.tick(60_000), vec![Action::Ping]);
        assert_eq!(m.tick(60_100), vec![]);
        m.received(60_200);
        assert!(m.is_connected());
        assert_eq!(m.tick(60_200 + p.ping_after - 1), vec![]);
        // Unanswered, it is dead once the answer window has passed.
        assert_eq!(m.tick(120_000), vec![Action::Ping]);
        assert_eq!(m.tick(120_000 + window - 1), vec![]);
        assert_eq!(
            m.tick(120_000 + window),
            vec![Action::Close(CloseReason::Silent)]
        );
    }

    #[test]
    fn without_heartbeat_support_an_idle_connection_is_left_alone() {
        let mut m = connected(false);
        assert_eq!(m.next_wakeup(), None);
        assert_eq!(m.tick(600_000), vec![]);
        assert!(m.is_connected());
    }

    #[test]
    fn going_offline_closes_at_once_and_stops_dialing_until_online() {
        let mut m = connected(true);
        assert_eq!(
            m.set_online(false, 1_000),
            vec![Action::Close(CloseReason::WentOffline)]
        );
        assert_eq!(m.status(), Status::Offline);
        assert_eq!(m.next_wakeup(), None);
        assert_eq!(m.tick(100_000), vec![]);
        // A close event arriving afterwards for the old socket changes nothing.
        m.closed(100_001);
        assert_eq!(m.next_wakeup(), None);
        // Online again: dial immediately, shown as Connecting (a fresh start).
        assert_eq!(m.set_online(true, 200_000), vec![Action::Dial]);
        assert_eq!(m.status(), Status::Connecting);
        // Offline while dialing abandons the attempt.
        assert_eq!(
            m.set_online(false, 200_100),
            vec![Action::Close(CloseReason::WentOffline)]
        );
        assert_eq!(m.set_online(false, 200_200), vec![]);
    }

    #[test]
    fn backoff_grows_with_failures_is_jittered_and_capped_and_resets_on_a_handshake() {
        let mut m = Monitor::new(policy(), 7);
        let mut now = 0;
        let mut delays = Vec::new();
        for _ in 0..10 {
            assert_eq!(m.tick(now), vec![Action::Dial]);
            m.closed(now + 5); // refused at once
            let at = m.next_wakeup().unwrap();
            delays.push(at - (now + 5));
            now = at;
        }
        let caps = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000];
        for (d, cap) in delays.iter().zip(caps) {
            assert!((250..250 + cap).contains(d), "{delays:?}");
        }
        assert!(delays.iter().any(|d| *d > 4_250), "grows: {delays:?}");
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 5, "jittered: {delays:?}");
        // A successful handshake resets it: the next loss retries within 1.25 s.
        assert_eq!(m.tick(now), vec![Action::Dial]);
        m.opened(now + 1);
        m.joined(now + 2, true);
        m.closed(now + 3);
        assert!(m.next_wakeup().unwrap() <= now + 3 + 1_250);
    }

    #[test]
    fn a_stuck_attempt_or_handshake_times_out() {
        let mut m = Monitor::new(policy(), 1);
        assert_eq!(m.tick(0), vec![Action::Dial]);
        assert_eq!(m.next_wakeup(), Some(10_000));
        assert_eq!(m.tick(9_999), vec![]);
        assert_eq!(
            m.tick(10_000),
            vec![Action::Close(CloseReason::ConnectTimeout)]
        );
        assert_eq!(m.status(), Status::Offline);
        let at = m.next_wakeup().unwrap();
        assert_eq!(m.tick(at), vec![Action::Dial]);
        m.opened(at + 100);
        assert_eq!(m.status(), Status::Connecting, "an open socket is progress");
        // The handshake gets the full timeout from the moment the socket opened.
        assert_eq!(m.tick(at + 10_099), vec![]);
        assert_eq!(
            m.tick(at + 10_100),
            vec![Action::Close(CloseReason::ConnectTimeout)]
        );
    }

    #[test]
    fn everything_sent_only_while_connected_with_nothing_pending_and_keeps_the_ack_time() {
        let mut m = Monitor::new(policy(), 3);
        m.set_pending(false, 5);
        assert_eq!(m.status(), Status::Offline, "nothing confirmed offline");
        assert_eq!(m.tick(10), vec![Action::Dial]);
        m.opened(20);
        m.set_pending(false, 25);
        assert_eq!(m.status(), Status::Connecting, "no handshake yet");
        m.joined(30, true);
        m.set_pending(true, 40);
        assert_eq!(m.status(), Status::Sending);
        m.set_pending(false, 50);
        assert_eq!(m.status(), Status::EverythingSent { at: 50 });
        // Nothing new: the time is that of the last confirmation, not of the last check.
        m.set_pending(false, 60);
        assert_eq!(m.status(), Status::EverythingSent { at: 50 });
        m.set_pending(true, 70);
        assert_eq!(m.status(), Status::Sending);
        m.set_pending(false, 80);
        assert_eq!(m.status(), Status::EverythingSent { at: 80 });
        // A note typed offline: pending, and confirmation must wait for a new connection.
        let _ = m.set_online(false, 90);
        m.set_pending(true, 95);
        assert_eq!(m.status(), Status::Offline);
        let _ = m.set_online(true, 100);
        m.opened(110);
        m.joined(120, true);
        m.set_pending(true, 125);
        assert_eq!(m.status(), Status::Sending);
        m.set_pending(false, 130);
        assert_eq!(m.status(), Status::EverythingSent { at: 130 });
        assert_eq!(m.last_ack(), Some(130));
    }
}
