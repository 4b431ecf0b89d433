use super::*;

fn cfg() -> ThrottleConfig {
    ThrottleConfig {
        free_failures: 2,
        window: Duration::from_secs(60),
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(8),
        max_entries: 4,
    }
}

fn ip(last: u8) -> IpAddr {
    IpAddr::from([198, 51, 100, last])
}

#[test]
fn free_failures_then_doubling_up_to_the_ceiling() {
    let mut t = Throttle::new(cfg());
    let now = Instant::now();
    let waits: Vec<u64> = (0..7)
        .map(|_| {
            t.record_failure(now, "alice", ip(1), &FailureReason::WrongPassword)
                .as_secs()
        })
        .collect();
    assert_eq!(waits, [0, 0, 1, 2, 4, 8, 8]);
    assert_eq!(
        t.check(now, "alice", ip(9)),
        Verdict::Wait {
            held: Held::User("alice".into()),
            retry_after: Duration::from_secs(8)
        }
    );
    assert_eq!(
        t.check(now, "bob", ip(1)),
        Verdict::Wait {
            held: Held::Source(ip(1)),
            retry_after: Duration::from_secs(8)
        }
    );
    assert_eq!(t.check(now, "bob", ip(2)), Verdict::Allow);
    assert_eq!(
        t.check(now + Duration::from_secs(8), "alice", ip(1)),
        Verdict::Allow
    );
    assert_eq!(t.counters().held_back, 2);
    assert_eq!(t.counters().failures[&FailureKind::WrongPassword], 7);
}

#[test]
fn the_window_forgets_and_success_clears_the_user_only() {
    let mut t = Throttle::new(cfg());
    let now = Instant::now();
    for _ in 0..3 {
        t.record_failure(now, "alice", ip(1), &FailureReason::UnknownUser);
    }
    assert!(matches!(t.check(now, "alice", ip(2)), Verdict::Wait { .. }));
    // A minute without failures: back to free failures.
    let later = now + Duration::from_secs(61);
    assert_eq!(t.check(later, "alice", ip(1)), Verdict::Allow);
    assert_eq!(
        t.record_failure(later, "alice", ip(1), &FailureReason::WrongPassword),
        Duration::ZERO
    );
    for _ in 0..2 {
        t.record_failure(later, "alice", ip(1), &FailureReason::WrongPassword);
    }
    t.record_success("alice");
    assert_eq!(
        t.check(later, "alice", ip(2)),
        Verdict::Allow,
        "success clears the user"
    );
    assert!(
        matches!(
            t.check(later, "carol", ip(1)),
            Verdict::Wait {
                held: Held::Source(_),
                ..
            }
        ),
        "the address stays held"
    );
}

#[test]
fn server_trouble_is_counted_but_not_slowed() {
    let mut t = Throttle::new(cfg());
    let now = Instant::now();
    let timeout = FailureReason::RadiusTimeout {
        message: "RADIUS server 10.0.0.1:1812 did not answer".into(),
    };
    for _ in 0..10 {
        assert_eq!(
            t.record_failure(now, "alice", ip(1), &timeout),
            Duration::ZERO
        );
    }
    assert_eq!(t.check(now, "alice", ip(1)), Verdict::Allow);
    assert_eq!(t.counters().failures[&FailureKind::RadiusTimeout], 10);
}

#[test]
fn tables_stay_bounded_evicting_expired_then_oldest() {
    let mut t = Throttle::new(cfg());
    let start = Instant::now();
    for i in 0..4u8 {
        let now = start + Duration::from_secs(u64::from(i));
        for _ in 0..3 {
            t.record_failure(now, &format!("u{i}"), ip(i), &FailureReason::WrongPassword);
        }
    }
    // Full: a fifth user evicts the least recently failed (u0), not the others.
    let now = start + Duration::from_secs(10);
    t.record_failure(now, "u9", ip(9), &FailureReason::WrongPassword);
    assert!(t.users.map.len() <= 4 && t.sources.map.len() <= 4);
    assert!(!t.users.map.contains_key("u0"));
    assert!(t.users.map.contains_key("u1"));
    assert_eq!(t.counters().evicted, 2);
    // Much later everything has expired and is purged at once.
    let much_later = start + Duration::from_secs(1000);
    t.record_failure(much_later, "new", ip(50), &FailureReason::WrongPassword);
    // The four old users were expired: purging makes room without counting them as live.
    assert_eq!(t.users.map.len(), 1);
    for i in 0..200u8 {
        t.record_failure(
            much_later,
            &format!("flood{i}"),
            ip(i),
            &FailureReason::UnknownUser,
        );
        assert!(t.users.map.len() <= 4 && t.sources.map.len() <= 4);
    }
}

#[test]
fn log_text_names_the_reason_never_the_password() {
    let r = FailureReason::RadiusReject {
        reply_message: Some("Account locked\r\nfake: line".into()),
    };
    let s = Throttle::describe("ali\nce", ip(7), &r, Duration::from_millis(1500));
    assert_eq!(
        s,
        "login failed for user \"ali?ce\" from 198.51.100.7: RADIUS server rejected it \
         (Access-Reject): Account locked??fake: line; further attempts for this user and address \
         are refused for 2s"
    );
    assert_eq!(
        Throttle::describe("bob", ip(7), &FailureReason::WrongPassword, Duration::ZERO),
        "login failed for user \"bob\" from 198.51.100.7: wrong password"
    );
    assert!(FailureReason::UnknownUser
        .to_string()
        .contains("unknown user"));
    let e = RadiusError::Timeout {
        server: "10.1.1.1:1812".into(),
        attempts: 3,
        waited: Duration::from_secs(14),
        hint: String::new(),
    };
    let r = FailureReason::from(&e);
    assert_eq!(r.kind(), FailureKind::RadiusTimeout);
    assert!(
        r.to_string().contains("10.1.1.1:1812 did not answer"),
        "{r}"
    );
}
