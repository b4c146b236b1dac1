//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP,
//! XREAD/XREADGROUP with BLOCK): each runs on a dedicated backend connection to the master of
//! its keys' slot, never on a shared pipelined one, where it would hold up every other client's
//! replies behind it. The backend honours the timeout (0: for ever); the proxy adds none.
//!
//! At most `--max-blocking-connections` such connections are open at once; beyond that the
//! command is refused at once with an error saying so. The client's connection task drops the
//! request — and so closes the dedicated connection, which makes the backend forget the
//! blocked client — as soon as the client goes away (see [`crate::client`]).
//!
//! A reply that says the command was not run (MOVED, TRYAGAIN …) sends it again where the
//! routing table says, within the retry deadline. A connection lost while blocked leaves the
//! outcome unknown (a pop may have happened): the client gets an error, never a second pop.

use bytes::Bytes;

use crate::backend::Failure;
use crate::dedicated::Dedicated;
use crate::forward::{self, Cause, Try};
use crate::metrics::ErrorKind;
use crate::server::Shared;

/// Runs the blocking command `cmd` (encoded; `name` for errors) for keys in `slot`; its reply.
pub async fn run(shared: &Shared, resp3: bool, slot: u16, name: &str, cmd: &Bytes) -> Bytes {
    let Ok(_permit) = shared.blocking.try_acquire() else {
        shared.metrics.error(ErrorKind::Unsupported);
        return forward::error(&format!(
            "ERR '{name}' cannot block through the proxy now: all {} dedicated backend \
             connections for blocking commands are in use (--max-blocking-connections)",
            shared.config.max_blocking_connections
        ));
    };
    let password = shared.config.backend_password.as_deref();
    let done = forward::retry_dedicated(shared, Some(slot), |addr| async move {
        let mut conn = match Dedicated::connect(&addr, resp3, password).await {
            Ok(conn) => conn,
            Err(failure) => return Try::NotRun(Cause::Failed(failure), None),
        };
        match conn.request(cmd).await {
            Ok(reply) => match forward::not_run(&reply) {
                None => Try::Done(reply),
                Some(cause) => Try::NotRun(cause, None),
            },
            Err(Failure::NotSent(why) | Failure::Unknown(why)) => {
                shared.metrics.error(ErrorKind::OutcomeUnknown);
                Try::Done(forward::error(&format!(
                    "ERR the connection to the backend broke while '{name}' was blocked \
                     ({why}): its outcome is unknown"
                )))
            }
        }
    })
    .await;
    done.unwrap_or_else(|give_up| give_up)
}
