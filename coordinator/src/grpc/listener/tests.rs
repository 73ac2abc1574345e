use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::log_limit::LogLimit;
use super::pending::{Pending, Shed, ShedReason};

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

#[test]
fn an_address_at_its_cap_sheds_its_own_oldest_handshake() {
    let mut pending = Pending::new(10, 2);
    let other = pending.admit(ip(9));
    let first = pending.admit(ip(1));
    let second = pending.admit(ip(1));
    let third = pending.admit(ip(1));
    assert_eq!(
        third.shed,
        Some(Shed {
            reason: ShedReason::SameIp,
            ip: ip(1)
        })
    );
    assert!(first.cancel.is_cancelled(), "the address's oldest goes");
    assert!(!second.cancel.is_cancelled());
    assert!(
        !other.cancel.is_cancelled(),
        "another address's older one stays"
    );
    assert_eq!(pending.pending_from(ip(1)), 2);
    assert_eq!(pending.len(), 3);
}

#[test]
fn a_full_table_sheds_the_oldest_handshake_of_all() {
    let mut pending = Pending::new(3, 3);
    let oldest = pending.admit(ip(1));
    let _b = pending.admit(ip(2));
    let _c = pending.admit(ip(3));
    let newest = pending.admit(ip(4));
    assert_eq!(
        newest.shed,
        Some(Shed {
            reason: ShedReason::Full,
            ip: ip(1)
        })
    );
    assert!(oldest.cancel.is_cancelled());
    assert_eq!(pending.len(), 3);
    assert_eq!(pending.pending_from(ip(1)), 0);
    assert_eq!(
        pending.ips(),
        3,
        "an address with nothing pending leaves the map"
    );
}

#[test]
fn finished_handshakes_free_their_slot_and_shed_ones_free_it_once() {
    let mut pending = Pending::new(2, 2);
    let a = pending.admit(ip(1));
    let b = pending.admit(ip(1));
    pending.release(a.id);
    let c = pending.admit(ip(1));
    assert_eq!(c.shed, None, "a released slot is free again");
    let d = pending.admit(ip(2));
    assert!(b.cancel.is_cancelled());
    // The shed handshake's task releases its slot when it ends: that must not free d's.
    pending.release(b.id);
    pending.release(b.id);
    assert_eq!(pending.len(), 2);
    pending.release(c.id);
    pending.release(d.id);
    assert_eq!((pending.len(), pending.ips()), (0, 0));
}

#[test]
fn the_table_never_exceeds_its_bounds() {
    let (capacity, per_ip) = (16, 4);
    let mut pending = Pending::new(capacity, per_ip);
    let mut live = Vec::new();
    for round in 0_u32..2_000 {
        let address = ip(u8::try_from(round * 7 % 11).unwrap() + 1);
        live.push(pending.admit(address));
        if round % 3 == 0 {
            let admitted = live.swap_remove((round as usize * 5) % live.len());
            pending.release(admitted.id);
        }
        live.retain(|admitted| !admitted.cancel.is_cancelled());
        assert!(pending.len() <= capacity);
        assert_eq!(
            pending.len(),
            live.len(),
            "every live handshake is counted once"
        );
        for last in 1..=11 {
            assert!(pending.pending_from(ip(last)) <= per_ip);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_log_line_kind_is_written_at_most_once_per_interval_with_the_count_dropped() {
    let limit = LogLimit::new(Duration::from_secs(1));
    assert_eq!(limit.admit(), Some(0));
    for _ in 0..41 {
        assert_eq!(limit.admit(), None);
    }
    tokio::time::advance(Duration::from_millis(999)).await;
    assert_eq!(limit.admit(), None);
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(limit.admit(), Some(42));
    assert_eq!(limit.admit(), None);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(limit.admit(), Some(1));
}

#[test]
fn handshakes_waiting_for_their_client_hello_are_shed_first() {
    let mut pending = Pending::new(3, 2);
    let talking = pending.admit(ip(1));
    pending.hello_received(talking.id);
    let idle = pending.admit(ip(1));
    // Same address at its cap: its idle one goes, not the older one midway through.
    let newer = pending.admit(ip(1));
    assert!(idle.cancel.is_cancelled());
    assert!(!talking.cancel.is_cancelled());
    // Full: the oldest still waiting for a hello goes.
    pending.hello_received(newer.id);
    let other = pending.admit(ip(2));
    assert_eq!(other.shed, None);
    let last = pending.admit(ip(3));
    assert!(other.cancel.is_cancelled());
    assert!(!talking.cancel.is_cancelled() && !newer.cancel.is_cancelled());
    // Everyone has sent a hello: the oldest of all goes.
    pending.hello_received(last.id);
    let _ = pending.admit(ip(4));
    assert!(talking.cancel.is_cancelled());
}

#[test]
fn an_ipv6_64_counts_as_one_source_and_mapped_ipv4_as_its_address() {
    let mut pending = Pending::new(10, 2);
    let first = pending.admit("2001:db8:1:2::1".parse().unwrap());
    let _ = pending.admit("2001:db8:1:2:ffff::9".parse().unwrap());
    let third = pending.admit("2001:db8:1:2:abcd::1".parse().unwrap());
    assert!(first.cancel.is_cancelled(), "one /64, one cap");
    assert_eq!(
        third.shed.map(|shed| shed.ip),
        Some("2001:db8:1:2::".parse().unwrap())
    );
    assert_eq!(pending.admit("2001:db8:1:3::1".parse().unwrap()).shed, None);
    let _ = pending.admit(ip(7));
    assert_eq!(pending.pending_from("::ffff:127.0.0.7".parse().unwrap()), 1);
}
