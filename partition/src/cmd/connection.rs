//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET.

use bytes::Bytes;

use super::{is, parse_int, Ctx, Handler};
use crate::error::{CmdError, CmdResult};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("ping", ping),
    ("echo", echo),
    ("hello", hello),
    ("auth", auth),
    ("select", select),
    ("quit", quit),
    ("reset", reset),
];

fn ping(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() > 2 {
        return Err(CmdError::WrongArity("ping".into()));
    }
    // A RESP2 subscriber gets PING's answer in the shape of a message, as Redis sends it.
    if ctx.client.subscriptions.active() && !ctx.out.resp3() {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).map_or(&b""[..], |a| &a[..]));
        return Ok(());
    }
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(&args[1]),
        _ => return Err(CmdError::WrongArity("ping".into())),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    ctx.out.bulk(&args[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

fn select(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let index = parse_int(&args[1])
        .map_err(|_| CmdError::err("value is not an integer or out of range"))?;
    if index != 0 {
        // One database per server, as in Redis Cluster.
        return Err(CmdError::err("DB index is out of range"));
    }
    ctx.out.ok();
    Ok(())
}

/// Checks a password; `username` must be `default` (there are no ACL users).
fn check_password(ctx: &mut Ctx, username: Option<&[u8]>, password: &[u8]) -> CmdResult {
    let required = ctx.server.config().requirepass.clone();
    let user_ok = username.is_none_or(|u| u == b"default");
    if required.is_empty() {
        if username.is_none() {
            return Err(CmdError::Other(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into(),
            ));
        }
        if user_ok {
            ctx.client.authenticated = true;
            return Ok(());
        }
    } else if user_ok && password == required.as_bytes() {
        ctx.client.authenticated = true;
        return Ok(());
    }
    Err(CmdError::Other("WRONGPASS invalid username-password pair or user is disabled.".into()))
}

fn auth(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    match args.len() {
        2 => check_password(ctx, None, &args[1])?,
        3 => check_password(ctx, Some(&args[1]), &args[2])?,
        _ => return Err(CmdError::Syntax),
    }
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut i = 1;
    let mut proto = None;
    if args.len() > 1 {
        let v = parse_int(&args[1])
            .map_err(|_| CmdError::err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::Other("NOPROTO unsupported protocol version".into()));
        }
        proto = Some(v as u8);
        i = 2;
    }
    // Options take effect as they are read, as in Redis: `HELLO 3 AUTH u p SETNAME bad name`
    // authenticates before failing on the name.
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "auth") && more >= 2 {
            check_password(ctx, Some(&args[i + 1]), &args[i + 2])?;
            i += 3;
        } else if is(&args[i], "setname") && more >= 1 {
            super::validate_client_name(&args[i + 1])?;
            ctx.client.handle.info().name = String::from_utf8_lossy(&args[i + 1]).into_owned();
            i += 2;
        } else {
            return Err(CmdError::Other(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            )));
        }
    }
    if !ctx.client.authenticated {
        return Err(CmdError::Other(protocol::redis_text::HELLO_NOAUTH.into()));
    }
    let handle = ctx.client.handle.clone();
    let mut info = handle.info();
    if let Some(p) = proto {
        info.resp = p;
        ctx.out.set_resp3(p == 3);
    }
    protocol::redis_text::write_hello(ctx.out, info.resp as i64, handle.id as i64);
    Ok(())
}

/// RESET: the connection goes back to how it was when it connected (RESP2, no name, replies
/// on, unauthenticated if a password is required) and replies `+RESET`.
fn reset(ctx: &mut Ctx, _args: &[Bytes]) -> CmdResult {
    {
        let info = ctx.client.handle.info();
        if info.replica && !info.monitor || info.master {
            return Err(CmdError::err("can only reset normal client connections"));
        }
    }
    let password_required = !ctx.server.config().requirepass.is_empty();
    super::release_client(ctx.state, ctx.client);
    ctx.client.reset(password_required);
    ctx.out.set_resp3(false);
    ctx.out.simple("RESET");
    Ok(())
}
