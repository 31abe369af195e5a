//! Sign-in throttling per account and per address, sans-IO (the caller passes the time).
//!
//! An account that fails 5 times within 15 minutes is locked for 1 minute; each further
//! failure in the same streak doubles the lock, up to 1 hour. An address gets the same
//! treatment after 50 failures, because every phone behind one council NAT shares it. A
//! streak is forgotten 15 minutes after its last failure or lock, whichever ends later.
//!
//! Memory is bounded: each map holds at most `capacity` entries; when full, finished
//! streaks are dropped first, then the least recently active entry.
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;

/// 15 minutes: how long failures count towards a lock, and how long a streak is remembered.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;
pub const ACCOUNT_FAILURES: usize = 5;
pub const ADDRESS_FAILURES: usize = 50;
pub const FIRST_LOCK_MS: i64 = 60 * 1000;
pub const MAX_LOCK_MS: i64 = 60 * 60 * 1000;
pub const DEFAULT_CAPACITY: usize = 100_000;
/// Usernames are keyed by at most this many characters, so junk names cannot inflate memory.
const MAX_KEY_CHARS: usize = 128;

/// Sans-IO: the caller passes the time (ms). Failures within a window lock the account (and,
/// more generously, the address) for a back-off that grows; a success clears the account.
pub struct Throttle {
    accounts: Limiter<String>,
    addresses: Limiter<AddressKey>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::with_capacity(DEFAULT_CAPACITY)
    }
}

// Keys are usernames and addresses: personal data that has no place in a log line.
impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("accounts", &self.accounts.entries.len())
            .field("addresses", &self.addresses.entries.len())
            .finish()
    }
}

impl Throttle {
    /// A throttle remembering at most `capacity` accounts and `capacity` addresses.
    pub fn with_capacity(capacity: usize) -> Self {
        Throttle {
            accounts: Limiter::new(ACCOUNT_FAILURES, capacity),
            addresses: Limiter::new(ADDRESS_FAILURES, capacity),
        }
    }

    /// `Err(retry_after_ms)` while `username` or `address` is locked out.
    pub fn check(&self, username: &str, address: IpAddr, now: i64) -> Result<(), i64> {
        let wait = self
            .accounts
            .locked_for(&account_key(username), now)
            .max(self.addresses.locked_for(&address_key(address), now));
        if wait > 0 {
            Err(wait)
        } else {
            Ok(())
        }
    }

    pub fn failed(&mut self, username: &str, address: IpAddr, now: i64) {
        self.accounts.failed(account_key(username), now);
        self.addresses.failed(address_key(address), now);
    }

    /// Clears the account's streak. The address keeps its count: otherwise one attacker
    /// with a single valid account could wipe the record of guessing at everyone else's.
    pub fn succeeded(&mut self, username: &str, _address: IpAddr) {
        self.accounts.entries.remove(&account_key(username));
    }

    /// How many accounts and addresses are remembered (for tests and metrics).
    pub fn len(&self) -> (usize, usize) {
        (self.accounts.entries.len(), self.addresses.entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

/// Usernames are case-insensitive, so `Alice` and `alice` share one streak.
fn account_key(username: &str) -> String {
    username
        .trim()
        .chars()
        .take(MAX_KEY_CHARS)
        .flat_map(char::to_lowercase)
        .collect()
}

/// IPv4 addresses are keyed whole. An IPv6 host usually controls a whole /64, so that is
/// the unit: otherwise each guess could come from a fresh address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum AddressKey {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

fn address_key(address: IpAddr) -> AddressKey {
    match address {
        IpAddr::V4(v4) => AddressKey::V4(v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => AddressKey::V4(v4.octets()),
            None => {
                let o = v6.octets();
                AddressKey::V6Prefix([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
            }
        },
    }
}

#[derive(Debug, Clone, Default)]
struct Streak {
    /// Failures within the window before the first lock (at most `threshold` kept).
    recent: Vec<i64>,
    /// Locks so far in this streak; each further failure doubles the next one.
    locks: u32,
    last_failure: i64,
    locked_until: i64,
}

impl Streak {
    fn finished(&self, now: i64) -> bool {
        now - self.last_failure.max(self.locked_until) > WINDOW_MS
    }
}

struct Limiter<K> {
    threshold: usize,
    capacity: usize,
    entries: HashMap<K, Streak>,
}

impl<K: Eq + Hash + Clone> Limiter<K> {
    fn new(threshold: usize, capacity: usize) -> Self {
        Limiter {
            threshold,
            capacity: capacity.max(1),
            entries: HashMap::new(),
        }
    }

    fn locked_for(&self, key: &K, now: i64) -> i64 {
        self.entries
            .get(key)
            .map_or(0, |s| (s.locked_until - now).max(0))
    }

    fn failed(&mut self, key: K, now: i64) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        let threshold = self.threshold;
        let streak = self.entries.entry(key).or_default();
        if streak.finished(now) {
            *streak = Streak::default();
        }
        streak.last_failure = now;
        if streak.locks > 0 {
            streak.locks += 1;
        } else {
            streak.recent.retain(|t| now - t < WINDOW_MS);
            streak.recent.push(now);
            if streak.recent.len() < threshold {
                return;
            }
            streak.recent = Vec::new();
            streak.locks = 1;
        }
        let lock = FIRST_LOCK_MS
            .saturating_mul(1_i64 << (streak.locks - 1).min(32))
            .min(MAX_LOCK_MS);
        streak.locked_until = streak.locked_until.max(now + lock);
    }

    /// Drop finished streaks; if none had finished, drop the least recently active one.
    /// A linear pass, but only when full, and every caller has just paid for an Argon2id
    /// verification, which costs far more.
    fn make_room(&mut self, now: i64) {
        self.entries.retain(|_, s| !s.finished(now));
        if self.entries.len() >= self.capacity {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, s)| s.last_failure.max(s.locked_until))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60 * 1000;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn five_failures_lock_the_account_for_a_minute_then_doubling_to_an_hour() {
        let mut t = Throttle::default();
        let a = ip("192.0.2.1");
        let mut now = 1_000_000;
        for _ in 0..4 {
            assert_eq!(t.check("alice", a, now), Ok(()));
            t.failed("alice", a, now);
            now += 10_000;
        }
        assert_eq!(t.check("alice", a, now), Ok(()));
        t.failed("alice", a, now);
        assert_eq!(t.check("alice", a, now), Err(MIN));
        assert_eq!(t.check("ALICE", a, now + 30_000), Err(30_000));
        // Someone else from the same address is not locked out.
        assert_eq!(t.check("bob", a, now), Ok(()));
        let mut expected = 2 * MIN;
        for _ in 0..8 {
            now = match t.check("alice", a, now) {
                Err(wait) => now + wait,
                Ok(()) => now,
            };
            assert_eq!(t.check("alice", a, now), Ok(()));
            t.failed("alice", a, now);
            assert_eq!(t.check("alice", a, now), Err(expected));
            expected = (expected * 2).min(60 * MIN);
        }
        assert_eq!(expected, 60 * MIN);
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_lock() {
        let mut t = Throttle::default();
        let a = ip("192.0.2.1");
        let mut now = 0;
        for _ in 0..20 {
            t.failed("alice", a, now);
            assert_eq!(t.check("alice", a, now), Ok(()));
            now += 4 * MIN; // four failures per 16 minutes
        }
    }

    #[test]
    fn a_streak_is_forgotten_fifteen_minutes_after_its_lock_ends() {
        let mut t = Throttle::default();
        let a = ip("192.0.2.1");
        for i in 0..6 {
            t.failed("alice", a, i);
        }
        // 6 failures: locked for 2 minutes from t=5.
        assert_eq!(t.check("alice", a, 5), Err(2 * MIN));
        let later = 5 + 2 * MIN + WINDOW_MS + 1;
        t.failed("alice", a, later);
        assert_eq!(t.check("alice", a, later), Ok(()), "a fresh streak");
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let mut t = Throttle::default();
        let a = ip("192.0.2.7");
        for i in 0..4 {
            t.failed("alice", a, i);
        }
        t.succeeded("Alice", a);
        t.failed("alice", a, 10);
        assert_eq!(t.check("alice", a, 10), Ok(()), "the count started again");

        for i in 0..(ADDRESS_FAILURES as i64 - 5) {
            t.failed(&format!("user{i}"), a, 20);
        }
        assert_eq!(t.check("zed", a, 20), Err(MIN));
        t.succeeded("zed", a);
        assert_eq!(
            t.check("zed", a, 20),
            Err(MIN),
            "a success does not unlock the address"
        );
        assert_eq!(t.check("zed", ip("192.0.2.8"), 20), Ok(()));
    }

    #[test]
    fn fifty_failures_from_one_address_lock_it() {
        let mut t = Throttle::default();
        let nat = ip("2001:db8:1:2:aaaa::1");
        for i in 0..49 {
            t.failed(&format!("guess{i}"), nat, i);
            assert_eq!(t.check("someone", nat, i), Ok(()));
        }
        t.failed("guess49", nat, 49);
        assert_eq!(t.check("someone", nat, 49), Err(MIN));
        // The same /64 is the same address; another /64 is not.
        assert_eq!(t.check("someone", ip("2001:db8:1:2:bbbb::9"), 49), Err(MIN));
        assert_eq!(t.check("someone", ip("2001:db8:1:3::1"), 49), Ok(()));
        assert_eq!(t.check("someone", nat, 49 + MIN), Ok(()));
    }

    #[test]
    fn ipv4_mapped_addresses_are_the_ipv4_address() {
        let mut t = Throttle::default();
        for i in 0..ADDRESS_FAILURES as i64 {
            t.failed(&format!("u{i}"), ip("::ffff:198.51.100.4"), 0);
        }
        assert!(t.check("x", ip("198.51.100.4"), 0).is_err());
    }

    #[test]
    fn memory_is_bounded_and_finished_streaks_go_first() {
        let mut t = Throttle::with_capacity(10);
        let a = ip("192.0.2.1");
        // A locked account...
        for i in 0..5 {
            t.failed("alice", a, i);
        }
        // ...survives a flood of one-off names, which push out each other instead.
        for i in 0..1000 {
            t.failed(&format!("junk{i}"), ip("192.0.2.2"), 10 + i);
            assert!(t.len().0 <= 10);
        }
        assert!(t.check("alice", ip("192.0.2.3"), 1010).is_err());
        // Long after, the whole map can be reclaimed by finished streaks.
        let late = 10 * WINDOW_MS;
        for i in 0..10 {
            t.failed(&format!("new{i}"), a, late);
        }
        assert_eq!(t.len().0, 10);
        assert_eq!(t.check("alice", ip("192.0.2.3"), late), Ok(()));
    }

    #[test]
    fn long_usernames_share_a_bounded_key() {
        let mut t = Throttle::default();
        let long = "a".repeat(10_000);
        for i in 0..5 {
            t.failed(&format!("{long}{i}"), ip("192.0.2.1"), 0);
        }
        assert!(t.check(&long, ip("192.0.2.9"), 0).is_err());
        assert!(!format!("{t:?}").contains("aaaa"));
    }
}
