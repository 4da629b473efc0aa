//! The handshake of [`crate::auth`] on a real connection, from either end.

use crate::auth::{Challenge, FrameOpener, FrameSealer, Handshake, Key, Proof, NONCE_LEN};
use crate::envelope::Preface;
use crate::frames::{frame, read_one};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// How long either end waits for the other's step of the handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
const STEP_MAX: usize = 256;

/// A fresh nonce.
pub fn nonce() -> [u8; NONCE_LEN] {
    rand::random()
}

/// The dialer's side: sends `preface` (which carries `nonce`), checks the
/// acceptor's challenge, answers with the proof.
pub async fn dial(
    read: &mut OwnedReadHalf,
    write: &mut OwnedWriteHalf,
    key: &Key,
    preface: &Preface,
    nonce: [u8; NONCE_LEN],
) -> Result<Handshake, String> {
    let claim = frame(preface).ok_or("cannot encode the preface")?;
    write
        .write_all(&claim)
        .await
        .map_err(|e| format!("cannot send the preface: {e}"))?;
    let challenge = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_one::<Challenge>(read, STEP_MAX))
        .await
        .map_err(|_| {
            "no challenge from the node: does it run with the same keys (or with none)?".to_string()
        })?
        .map_err(|e| format!("no challenge from the node (it refused the key?): {e}"))?;
    let hs = Handshake::new(key, claim, nonce, challenge.nonce);
    if !hs.challenge_verifies(&challenge) {
        return Err("the node's challenge does not verify: it holds another key".into());
    }
    let proof = frame(&hs.proof()).ok_or("cannot encode the proof")?;
    write
        .write_all(&proof)
        .await
        .map_err(|e| format!("cannot send the proof: {e}"))?;
    Ok(hs)
}

/// The acceptor's side, once it has read `preface` (which carried `theirs`):
/// sends its challenge and checks the dialer's proof.
pub async fn accept(
    read: &mut OwnedReadHalf,
    write: &mut OwnedWriteHalf,
    key: &Key,
    preface: &Preface,
    theirs: [u8; NONCE_LEN],
) -> Result<Handshake, String> {
    let claim = frame(preface).ok_or("cannot encode the preface")?;
    let hs = Handshake::new(key, claim, theirs, nonce());
    let challenge = frame(&hs.challenge()).ok_or("cannot encode the challenge")?;
    write
        .write_all(&challenge)
        .await
        .map_err(|e| format!("cannot send the challenge: {e}"))?;
    let proof = tokio::time::timeout(HANDSHAKE_TIMEOUT, read_one::<Proof>(read, STEP_MAX))
        .await
        .map_err(|_| "no proof within the handshake's deadline".to_string())?
        .map_err(|e| format!("no proof: {e}"))?;
    if !hs.proof_verifies(&proof) {
        return Err("the proof does not verify: wrong key, or a replayed connection".into());
    }
    Ok(hs)
}

/// The dialer's introduction: with a key, `authed(nonce)` and the handshake,
/// giving the sealer of what it writes and the opener of what it reads;
/// without one, the `plain` preface alone.
pub async fn introduce(
    read: &mut OwnedReadHalf,
    write: &mut OwnedWriteHalf,
    key: Option<&Key>,
    plain: Preface,
    authed: impl FnOnce([u8; NONCE_LEN]) -> Preface,
) -> Result<Option<(FrameSealer, FrameOpener)>, String> {
    let Some(key) = key else {
        let preface = frame(&plain).ok_or("cannot encode the preface")?;
        write
            .write_all(&preface)
            .await
            .map_err(|e| format!("cannot send the preface: {e}"))?;
        return Ok(None);
    };
    let nonce = nonce();
    let hs = dial(read, write, key, &authed(nonce), nonce).await?;
    Ok(Some((hs.dialer_to_acceptor().0, hs.acceptor_to_dialer().1)))
}
