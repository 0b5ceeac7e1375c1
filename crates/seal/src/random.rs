//! The one place that draws randomness: master keys, data keys, index keys, nonces and key ids.
//!
//! Everything comes straight from the operating system's generator, with no user-space state
//! that a fork or a snapshot could duplicate. This module does not seed, cache or mix anything.

use rand::TryRngCore;
use rand::rngs::OsRng;

/// Fills `buffer` from the operating system's random generator.
///
/// # Panics
///
/// When the operating system cannot supply randomness. On the platforms Tessera runs on
/// (`getrandom(2)` on Linux, the equivalents elsewhere) this happens only before the kernel's
/// pool is initialised at boot; making keys or nonces without randomness would be worse than
/// stopping, so the invariant is enforced by a panic rather than returned as an error.
pub(crate) fn fill(buffer: &mut [u8]) {
    if let Err(error) = OsRng.try_fill_bytes(buffer) {
        panic!("the operating system's random generator failed: {error}");
    }
}
