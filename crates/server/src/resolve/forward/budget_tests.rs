use std::time::Duration;

use super::*;

const LIMITS: UpstreamLimits = UpstreamLimits {
    max_qps: 10,
    max_pending: 2,
};

fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

#[tokio::test(start_paused = true)]
async fn pending_is_capped_and_a_returned_permit_goes_to_the_next() {
    let budget = Arc::new(Budget::new(LIMITS));
    let first = budget.acquire(Priority(1), far()).await.unwrap();
    let _second = budget.acquire(Priority(1), far()).await.unwrap();
    let third = tokio::spawn({
        let budget = budget.clone();
        async move { budget.acquire(Priority(1), far()).await.map(|_| ()) }
    });
    tokio::task::yield_now().await;
    assert_eq!(budget.usage(Instant::now()).queued, 1);
    assert!(!third.is_finished(), "two are pending: the third waits");
    drop(first);
    assert_eq!(third.await.unwrap(), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn no_one_second_window_holds_more_than_max_qps() {
    let budget = Arc::new(Budget::new(UpstreamLimits {
        max_qps: 10,
        max_pending: 1000,
    }));
    let started = Instant::now();
    let mut sent = Vec::new();
    for _ in 0..35 {
        let permit = budget.acquire(Priority(1), far()).await.unwrap();
        sent.push(Instant::now() - started);
        drop(permit);
    }
    for (i, at) in sent.iter().enumerate() {
        let in_window = sent[i..]
            .iter()
            .take_while(|later| **later < *at + WINDOW)
            .count();
        assert!(
            in_window <= 10,
            "{in_window} sends in the second after {at:?}"
        );
    }
    // 35 sends at 10 per second: the last one in the fourth second.
    assert!(sent[34] >= Duration::from_secs(3), "{:?}", sent[34]);
    assert!(sent[34] < Duration::from_secs(4), "{:?}", sent[34]);
}

#[tokio::test(start_paused = true)]
async fn sends_are_paced_so_no_part_of_a_second_goes_silent() {
    let budget = Arc::new(Budget::new(UpstreamLimits {
        max_qps: 100,
        max_pending: 1000,
    }));
    let started = Instant::now();
    let mut sent = Vec::new();
    for _ in 0..300 {
        drop(budget.acquire(Priority(1), far()).await.unwrap());
        sent.push(Instant::now() - started);
    }
    // A burst of a fiftieth of a second's worth, then one every ~10 ms.
    assert_eq!(sent[1], Duration::ZERO);
    assert!(sent[2] > Duration::ZERO);
    let longest_gap = sent.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(longest_gap <= Duration::from_millis(11), "{longest_gap:?}");
    assert!(sent[299] >= Duration::from_millis(2890), "{:?}", sent[299]);
}

#[tokio::test(start_paused = true)]
async fn higher_priority_goes_first_and_fifo_within_one() {
    let budget = Arc::new(Budget::new(UpstreamLimits {
        max_qps: 100,
        max_pending: 1,
    }));
    let held = budget.acquire(Priority(0), far()).await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (label, priority) in [
        ("flood-1", 1),
        ("flood-2", 1),
        ("popular", 9),
        ("cached", 20),
    ] {
        let (budget, order) = (budget.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            let permit = budget.acquire(Priority(priority), far()).await.unwrap();
            order.lock().unwrap().push(label);
            tokio::task::yield_now().await;
            drop(permit);
        }));
        tokio::task::yield_now().await;
    }
    drop(held);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        *order.lock().unwrap(),
        ["cached", "popular", "flood-1", "flood-2"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_sheds_its_lowest_or_the_newcomer() {
    // max_pending 1: the queue holds 4.
    let budget = Arc::new(Budget::new(UpstreamLimits {
        max_qps: 100,
        max_pending: 1,
    }));
    let _held = budget.acquire(Priority(0), far()).await.unwrap();
    let mut queued = Vec::new();
    for priority in [5, 5, 5, 1] {
        let budget = budget.clone();
        queued.push(tokio::spawn(async move {
            budget.acquire(Priority(priority), far()).await.map(|_| ())
        }));
        tokio::task::yield_now().await;
    }
    assert_eq!(budget.usage(Instant::now()).queued, 4);
    // A newcomer no higher than the lowest is refused at once ...
    assert_eq!(
        budget.acquire(Priority(1), far()).await.map(|_| ()),
        Err(Shed::QueueFull)
    );
    // ... a higher one takes the lowest's place, which learns at once.
    let popular = tokio::spawn({
        let budget = budget.clone();
        async move { budget.acquire(Priority(9), far()).await.map(|_| ()) }
    });
    tokio::task::yield_now().await;
    let lowest = queued.pop().unwrap();
    assert_eq!(lowest.await.unwrap(), Err(Shed::QueueFull));
    assert_eq!(budget.usage(Instant::now()).queued, 4);
    assert_eq!(budget.stats.shed.load(Ordering::Relaxed), 2);
    popular.abort();
}

#[tokio::test(start_paused = true)]
async fn a_queued_try_gives_up_at_its_deadline_and_the_next_still_gets_through() {
    let budget = Arc::new(Budget::new(UpstreamLimits {
        max_qps: 100,
        max_pending: 1,
    }));
    let held = budget.acquire(Priority(0), far()).await.unwrap();
    let started = Instant::now();
    let hurried = budget.clone();
    let hurried = tokio::spawn(async move {
        hurried
            .acquire(Priority(9), Instant::now() + Duration::from_millis(300))
            .await
            .map(|_| Instant::now())
    });
    let patient = budget.clone();
    let patient =
        tokio::spawn(async move { patient.acquire(Priority(1), far()).await.map(|_| ()) });
    assert_eq!(hurried.await.unwrap(), Err(Shed::Deadline));
    assert_eq!(Instant::now() - started, Duration::from_millis(300));
    drop(held);
    assert_eq!(patient.await.unwrap(), Ok(()));
}

#[test]
fn an_upstream_on_several_routes_gets_the_strictest_limits() {
    let mut forward = privatelink_mapping::Settings::default().forward;
    let upstream = SocketAddr::from(([127, 0, 0, 1], 53));
    forward.upstreams = vec![upstream];
    forward.rules = vec![privatelink_mapping::ForwardRule {
        suffix: privatelink_mapping::DomainName::parse("corp.example").unwrap(),
        upstreams: vec![upstream],
        limits: UpstreamLimits {
            max_qps: 50,
            max_pending: 500,
        },
    }];
    let budgets = Budgets::default();
    budgets.configure(&forward);
    let all = budgets.all();
    assert_eq!(all.len(), 1);
    let state = all[0].1.lock();
    assert_eq!(
        state.limits,
        UpstreamLimits {
            max_qps: 50,
            max_pending: 200
        }
    );
}
