//! CLIENT: connection introspection and control (ID, INFO, LIST, KILL, SETNAME, GETNAME,
//! SETINFO, REPLY, NO-EVICT, NO-TOUCH, HELP, and the tracking queries GETREDIR / TRACKINGINFO /
//! CACHING).
//!
//! Everything follows redis-server 7.0.15 except SETINFO and NO-TOUCH, which 7.0 lacks: they
//! follow Redis 7.2 (modern clients send SETINFO on connect), and CLIENT LIST gains 7.2's
//! `lib-name`/`lib-ver` fields and `T` flag with them. The KILL MAXAGE filter (7.4) is absent.

use bytes::Bytes;

use super::server::reply_help;
use super::{is, subcommand, Ctx, Handler};
use crate::client::{ClientType, ReplyMode};
use crate::error::{CmdError, CmdResult};

pub const COMMANDS: &[(&str, Handler)] = &[("client", client)];

/// The ON|OFF argument of NO-EVICT and NO-TOUCH (anything else is a syntax error, as in Redis).
fn on_off(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "on") {
        Ok(true)
    } else if is(arg, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn client(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let spec = super::spec("client");
    let sub = subcommand(spec, args)?;
    match sub.name {
        "client|help" => {
            reply_help(ctx.out, "CLIENT", HELP);
            Ok(())
        }
        "client|id" => {
            ctx.out.integer(ctx.client.id() as i64);
            Ok(())
        }
        "client|info" => {
            let mut line = String::new();
            ctx.client.handle.write_info_line(&mut line);
            ctx.out.verbatim("txt", line.as_bytes());
            Ok(())
        }
        "client|list" => list(ctx, args),
        "client|kill" => kill(ctx, args),
        "client|setname" => {
            super::validate_client_name(&args[2])?;
            ctx.client.handle.info().name = String::from_utf8_lossy(&args[2]).into_owned();
            ctx.out.ok();
            Ok(())
        }
        "client|getname" => {
            let name = ctx.client.handle.name();
            if name.is_empty() {
                ctx.out.null();
            } else {
                ctx.out.bulk(name.as_bytes());
            }
            Ok(())
        }
        "client|reply" => {
            if is(&args[2], "on") {
                ctx.client.reply_mode = ReplyMode::On;
                ctx.out.ok();
            } else if is(&args[2], "off") {
                // No reply: OFF silences this command too.
                ctx.client.reply_mode = ReplyMode::Off;
            } else if is(&args[2], "skip") {
                if ctx.client.reply_mode != ReplyMode::Off {
                    ctx.client.reply_mode = ReplyMode::SkipNext;
                }
            } else {
                return Err(CmdError::Syntax);
            }
            Ok(())
        }
        "client|setinfo" => {
            // Redis 7.2's clientSetinfoCommand.
            let attr = &args[2];
            let lib_name = is(attr, "lib-name");
            if !lib_name && !is(attr, "lib-ver") {
                return Err(CmdError::err(format_args!(
                    "Unrecognized option '{}'",
                    String::from_utf8_lossy(attr)
                )));
            }
            if !args[3].iter().all(|&c| (b'!'..=b'~').contains(&c)) {
                return Err(CmdError::err(format_args!(
                    "{} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(attr)
                )));
            }
            let value = String::from_utf8_lossy(&args[3]).into_owned();
            let mut info = ctx.client.handle.info();
            if lib_name {
                info.lib_name = value;
            } else {
                info.lib_ver = value;
            }
            drop(info);
            ctx.out.ok();
            Ok(())
        }
        "client|no-touch" => {
            let on = on_off(&args[2])?;
            ctx.client.no_touch = on;
            ctx.client.handle.info().no_touch = on;
            ctx.out.ok();
            Ok(())
        }
        "client|no-evict" => {
            let on = on_off(&args[2])?;
            ctx.client.handle.info().no_evict = on;
            ctx.out.ok();
            Ok(())
        }
        // Client-side caching is not supported, so tracking is always off for everyone.
        "client|getredir" => {
            ctx.out.integer(-1);
            Ok(())
        }
        "client|trackinginfo" => {
            let out = &mut *ctx.out;
            out.map(3);
            out.bulk(b"flags");
            out.set(1);
            out.bulk(b"off");
            out.bulk(b"redirect");
            out.integer(-1);
            out.bulk(b"prefixes");
            out.empty_array();
            Ok(())
        }
        "client|caching" => Err(CmdError::err(
            "CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        )),
        other => Err(CmdError::err(format!(
            "CLIENT {} is not supported by this server",
            other.trim_start_matches("client|").to_ascii_uppercase()
        ))),
    }
}

/// CLIENT LIST [TYPE type | ID id...]
fn list(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let mut text = String::new();
    if args.len() == 4 && is(&args[2], "type") {
        let kind = ClientType::parse(&args[3]).ok_or_else(|| {
            CmdError::err(format!("Unknown client type '{}'", String::from_utf8_lossy(&args[3])))
        })?;
        for c in ctx.server.clients.all() {
            if c.info().client_type() == kind {
                c.write_info_line(&mut text);
            }
        }
    } else if args.len() > 3 && is(&args[2], "id") {
        let mut ids = Vec::with_capacity(args.len() - 3);
        for a in &args[3..] {
            ids.push(protocol::number::parse_i64(a).ok_or(CmdError::err("Invalid client ID"))?);
        }
        for id in ids {
            if let Some(c) = u64::try_from(id).ok().and_then(|id| ctx.server.clients.get(id)) {
                c.write_info_line(&mut text);
            }
        }
    } else if args.len() != 2 {
        return Err(CmdError::Syntax);
    } else {
        for c in ctx.server.clients.all() {
            c.write_info_line(&mut text);
        }
    }
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [TYPE type] [ADDR a] [LADDR a] [USER u]
/// [SKIPME yes|no]
fn kill(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let mut addr = None;
    let mut laddr = None;
    let mut kind = None;
    let mut id = None;
    let mut skipme = true;
    if args.len() == 3 {
        // The old form; it may kill the calling client itself.
        addr = Some(text(&args[2]));
        skipme = false;
    } else {
        let mut i = 2;
        while i < args.len() {
            let (opt, value) = (&args[i], args.get(i + 1).ok_or(CmdError::Syntax)?);
            if is(opt, "id") {
                let v = protocol::number::parse_i64(value)
                    .filter(|&v| v >= 1)
                    .ok_or_else(|| CmdError::err("client-id should be greater than 0"))?;
                id = Some(v as u64);
            } else if is(opt, "type") {
                kind = Some(ClientType::parse(value).ok_or_else(|| {
                    CmdError::err(format!("Unknown client type '{}'", text(value)))
                })?);
            } else if is(opt, "addr") {
                addr = Some(text(value));
            } else if is(opt, "laddr") {
                laddr = Some(text(value));
            } else if is(opt, "user") {
                // Only the default user exists, and every client is authenticated as it.
                if value.as_ref() != b"default" {
                    return Err(CmdError::err(format!("No such user '{}'", text(value))));
                }
            } else if is(opt, "skipme") {
                skipme = if is(value, "yes") {
                    true
                } else if is(value, "no") {
                    false
                } else {
                    return Err(CmdError::Syntax);
                };
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
    }
    let me = ctx.client.id();
    let mut killed = 0;
    let mut kill_me = false;
    for c in ctx.server.clients.all() {
        if addr.as_ref().is_some_and(|a| *a != c.addr.to_string())
            || laddr.as_ref().is_some_and(|a| *a != c.local_addr.to_string())
            || kind.is_some_and(|k| c.info().client_type() != k)
            || id.is_some_and(|id| c.id != id)
            || (c.id == me && skipme)
        {
            continue;
        }
        if c.id == me {
            kill_me = true;
        } else {
            c.kill();
        }
        killed += 1;
    }
    if args.len() == 3 {
        if killed == 0 {
            return Err(CmdError::err("No such client"));
        }
        ctx.out.ok();
    } else {
        ctx.out.integer(killed);
    }
    // The reply is queued first, then the connection closes, as Redis does.
    if kill_me {
        ctx.client.close_after_reply = true;
    }
    Ok(())
}

const HELP: &[&str] = &[
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
];
