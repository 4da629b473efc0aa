//! The embedding API on real sockets (issue 19): three nodes inside this test
//! process, started from `ringleader node`'s flags, elect a leader, take
//! proposals through the leader only, give every node the same committed
//! history, fence the leader, and carry on across the leader's shutdown and
//! restart over its data.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod real;

use real::{Ports, Scratch};
use ringleader_core::NodeId;
use ringleader_runtime::embed::{CommittedEvent, NodeHandle, ProposeError};
use std::time::Duration;

fn flags(ports: &Ports, scratch: &Scratch, id: u32) -> Vec<String> {
    [
        "--id",
        &id.to_string(),
        "--cluster",
        &format!("embed-{}", ports.base),
        "--port-base",
        &ports.base.to_string(),
        "--mcast-port",
        &ports.mcast.to_string(),
        "--election",
        "quorum",
        "--voters",
        "1,2,3",
        "--http",
        "off",
        "--data-dir",
        &scratch.0.join(format!("n{id}")).display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

async fn start(ports: &Ports, scratch: &Scratch, id: u32) -> NodeHandle {
    let options = ringleader::node_options(flags(ports, scratch, id)).unwrap();
    NodeHandle::start(options).await.unwrap()
}

/// The leader every given node names, once they all name the same one and it
/// says it leads.
async fn agreed_leader(nodes: &[&NodeHandle]) -> NodeId {
    let wait = async {
        loop {
            let named: Vec<Option<NodeId>> = nodes.iter().map(|n| n.leadership().leader).collect();
            if let Some(Some(l)) = named.first().copied() {
                let all = named.iter().all(|n| *n == Some(l));
                let leads = nodes
                    .iter()
                    .any(|n| n.id() == l && n.leadership().is_leader());
                if all && leads {
                    return l;
                }
            }
            // Any change of any node's view is worth a look; none for a
            // while is worth one too (the leader may have named itself first).
            let mut watches: Vec<_> = nodes.iter().map(|n| n.watch_leadership()).collect();
            let changed = watches.iter_mut().map(|w| Box::pin(w.changed()));
            let _ = tokio::time::timeout(
                Duration::from_millis(200),
                futures_select_any(changed.collect()),
            )
            .await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the nodes agree on a leader within 30 s")
}

/// Waits for the first of `futures` to complete.
async fn futures_select_any<F: std::future::Future + Unpin>(mut futures: Vec<F>) {
    std::future::poll_fn(|cx| {
        for f in &mut futures {
            if std::pin::Pin::new(&mut *f).poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// The payloads of the committed entries proposed locally, from index 1 up to
/// `upto`, as node `node` streams them.
async fn proposed_history(node: &NodeHandle, upto: u64) -> Vec<(u64, Vec<u8>)> {
    let mut stream = node.committed(1);
    let mut seen = Vec::new();
    while stream.position() <= upto {
        let next = tokio::time::timeout(Duration::from_secs(20), stream.next()).await;
        match next.expect("the history arrives").expect("the node runs") {
            CommittedEvent::Entry(e) => {
                if ringleader_core::proposals::is_local_client(e.id.client) {
                    seen.push((e.index, e.payload.to_vec()));
                }
            }
            other => panic!("a quorum history changed: {other:?}"),
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_nodes_elect_propose_fence_and_follow_the_committed_history() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_test_writer()
        .try_init();
    let ports = Ports::fresh();
    let scratch = Scratch::new("embed");
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start(&ports, &scratch, id).await);
    }
    let leader = agreed_leader(&nodes.iter().collect::<Vec<_>>()).await;
    let at = |id: NodeId| &nodes[id.0 as usize - 1];
    let follower = nodes.iter().find(|n| n.id() != leader).unwrap();

    // Only the leader takes proposals; a follower names it.
    assert_eq!(
        follower.propose(b"x".to_vec()).await,
        Err(ProposeError::NotLeader {
            leader: Some(leader)
        })
    );
    let too_big = vec![0u8; ringleader_core::wire::MAX_CHAT_BYTES + 1];
    assert!(matches!(
        at(leader).propose(too_big).await,
        Err(ProposeError::TooLarge { .. })
    ));

    // Proposals made at once commit in order, each told its index.
    let proposals = (0..100).map(|i| at(leader).propose(format!("job {i}").into_bytes()));
    let mut indexes = Vec::new();
    for outcome in futures_all(proposals.collect()).await {
        indexes.push(outcome.unwrap());
    }
    assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{indexes:?}");
    let expected: Vec<(u64, Vec<u8>)> = indexes
        .iter()
        .enumerate()
        .map(|(i, index)| (*index, format!("job {i}").into_bytes()))
        .collect();
    let last = *indexes.last().unwrap();
    for node in &nodes {
        assert_eq!(
            proposed_history(node, last).await,
            expected,
            "n{}",
            node.id()
        );
    }

    // The leader is fenced by its lease; a follower is not the leader.
    let fence = at(leader).fence().await.unwrap();
    assert_eq!(fence.epoch, at(leader).leadership().epoch);
    assert!(fence.commit >= last);
    assert!(fence.lease_until.is_some(), "quorum leads with a lease");
    assert!(matches!(
        follower.fence().await,
        Err(ProposeError::NotLeader { .. })
    ));
    let members = at(leader).members().await.unwrap();
    let mut ids: Vec<u32> = members.iter().map(|m| m.id).collect();
    ids.sort_unstable();
    let others: Vec<u32> = (1..=3).filter(|&i| i != leader.0).collect();
    assert_eq!(ids, others, "{members:?}");

    // The leader leaves; the others elect another and take proposals.
    let old_epoch = fence.epoch;
    let old = nodes.remove(leader.0 as usize - 1);
    old.shutdown().await.unwrap();
    let survivors: Vec<&NodeHandle> = nodes.iter().collect();
    let new_leader = agreed_leader(&survivors).await;
    assert_ne!(new_leader, leader);
    let new = nodes.iter().find(|n| n.id() == new_leader).unwrap();
    // Made while it may still be syncing its log: the proposal waits for it.
    let index = new.propose(b"after".to_vec()).await.unwrap();
    assert!(new.leadership().epoch > old_epoch);
    assert!(index > last);

    // Restarted over its data, the old leader streams the whole history.
    let back = start(&ports, &scratch, leader.0).await;
    let mut want = expected.clone();
    want.push((index, b"after".to_vec()));
    assert_eq!(proposed_history(&back, index).await, want);
    back.shutdown().await.unwrap();
    for node in nodes {
        node.shutdown().await.unwrap();
    }
}

/// Awaits every future, concurrently, and returns their outputs in order.
async fn futures_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = handles.iter().map(|_| None).collect();
    let mut handles: Vec<Option<_>> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, h) in out.iter_mut().zip(handles.iter_mut()) {
            if let Some(f) = h {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *slot = Some(v);
                        *h = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}
