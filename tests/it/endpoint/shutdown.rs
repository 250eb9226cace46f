//! Graceful shutdown of the endpoint's own server in a worker that has no server of its
//! own: on SIGTERM `guard.shutdown_signal()` resolves and `/readyz` answers 503 at once,
//! a request in flight finishes, then `main` returns with status 0.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::http_get as get_within;

fn get(address: SocketAddr, path: &str) -> (u16, String) {
    get_within(address, path, Duration::from_secs(20))
}

#[test]
fn sigterm_turns_readiness_off_drains_in_flight_requests_and_main_returns() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rustform-endpoint-probe"))
        .arg("serve")
        .env_clear()
        .env("PROBE_SLOW_MILLIS", "2000")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (address, mut lines) = super::listening(child.stderr.take().unwrap());
    // Before: ready (the slow check passes, after 2 s).
    assert_eq!(get(address, "/readyz").0, 200);
    let checked = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line == "slow check: started");
    assert!(checked, "the readiness check ran");

    // A request in flight (the slow check has started for it), then SIGTERM.
    let in_flight = std::thread::spawn(move || get(address, "/health"));
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line == "slow check: started");
    assert!(started, "the in-flight request reached its check");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    // Readiness turns 503 while the request drains. A probe that arrives before the
    // signal is handled joins the running checks: give it up quickly and ask again.
    let mut readiness = 0;
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        readiness = get_within(address, "/readyz", Duration::from_millis(300)).0;
        if readiness == 503 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(readiness, 503);

    let (status, body) = in_flight.join().unwrap();
    assert!(
        status == 200 || status == 503,
        "the in-flight request finished: {body}"
    );
    assert!(body.contains("\"checks\""), "{body}");

    // Then main returns: the program's exit status, not the signal's.
    let until = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < until, "the probe did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exit.code(), Some(0));
    // And nothing listens any more.
    assert_eq!(get(address, "/healthz").0, 0);
}
