//! Commands the proxy answers itself: the connection commands (PING, ECHO, HELLO, AUTH,
//! SELECT, QUIT, CLIENT SETNAME/GETNAME/ID/SETINFO), COMMAND from `protocol`'s table, and the
//! CLUSTER commands a cluster-mode client starts with — answered as a one-node cluster that
//! owns every slot at the proxy's own address, so such a client sends everything here.

use bytes::Bytes;
use protocol::command::{self as table, CommandSpec};
use protocol::{key_hash_slot, ReplyWriter};

use crate::command::{Plan, Session};
use crate::server::Shared;

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Answers `spec` if it is the proxy's to answer: `Ok(Some(plan))` (the reply written for
/// [`Plan::Local`]), `Ok(None)` for a command to route, `Err(text)` for an error reply.
pub fn run(
    shared: &Shared,
    session: &mut Session,
    spec: &'static CommandSpec,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<Option<Plan>, String> {
    match spec.name {
        "ping" => match args.len() {
            1 => out.simple("PONG"),
            2 => out.bulk(&args[1]),
            _ => return Err(crate::command::wrong_arity("ping")),
        },
        "echo" => out.bulk(&args[1]),
        "quit" => {
            out.ok();
            session.quit = true;
        }
        "select" => match protocol::number::parse_i64(&args[1]) {
            Some(0) => out.ok(),
            Some(_) => return Err("ERR DB index is out of range".into()),
            None => return Err("ERR value is not an integer or out of range".into()),
        },
        "auth" => {
            match args.len() {
                2 => check_password(shared, session, None, &args[1])?,
                3 => check_password(shared, session, Some(&args[1]), &args[2])?,
                _ => return Err("ERR syntax error".into()),
            }
            out.ok();
        }
        "hello" => hello(shared, session, args, out)?,
        "readonly" | "readwrite" => out.ok(),
        "client|setname" => {
            if !args[2].iter().all(|&c| (b'!'..=b'~').contains(&c)) {
                return Err(
                    "ERR Client names cannot contain spaces, newlines or special characters."
                        .into(),
                );
            }
            session.name = (!args[2].is_empty()).then(|| args[2].clone());
            session.handle.set_name(session.name.clone());
            out.ok();
        }
        "client|list" => client_list(shared, args, out)?,
        "client|info" => {
            let line = session.handle.line() + "\n";
            out.verbatim("txt", line.as_bytes());
        }
        "client|kill" => client_kill(shared, session, args, out)?,
        "reset" => {
            // As Redis: the transaction and watched keys go, the name, RESP2, and the
            // connection is not authenticated any more when a password is required.
            session.tx.reset();
            session.name = None;
            session.handle.set_name(None);
            session.resp3 = false;
            out.set_resp3(false);
            session.authenticated = shared.config.requirepass.is_empty();
            out.simple("RESET");
        }
        "client|getname" => match &session.name {
            Some(n) => out.bulk(n),
            None => out.null(),
        },
        "client|id" => out.integer(session.id as i64),
        "client|setinfo" => out.ok(),
        "command" => out_command(out),
        "command|count" => out.integer(table::TABLE.len() as i64),
        "command|info" => command_info(args, out),
        "command|docs" => command_docs(args, out),
        // The same table answers on every backend.
        "command|list" | "command|getkeys" | "command|getkeysandflags" | "command|help" => {
            return Ok(Some(Plan::Any { readonly: true }))
        }
        "time" | "lolwut" | "slowlog|help" => return Ok(Some(Plan::Any { readonly: true })),
        "config|get" => return Ok(Some(Plan::Any { readonly: true })),
        "cluster|keyslot" => out.integer(i64::from(key_hash_slot(&args[2]))),
        "cluster|myid" => out.bulk(shared.node_id.as_bytes()),
        "cluster|info" => cluster_info(shared, out),
        "cluster|slots" => cluster_slots(shared, out),
        "cluster|shards" => cluster_shards(shared, out),
        "cluster|nodes" => {
            let (host, port) = host_port(&shared.announce);
            let line = format!(
                "{} {host}:{port}@{} myself,master - 0 0 {} connected 0-16383\n",
                shared.node_id,
                u32::from(port) + 10000,
                shared.router.epoch().max(1)
            );
            out.verbatim("txt", line.as_bytes());
        }
        _ => return Ok(None),
    }
    Ok(Some(Plan::Local))
}

/// Whether the proxy answers `name` itself from the client's session or its own state — what a
/// backend cannot answer for it inside a transaction. (PING, ECHO, TIME, COMMAND … are answered
/// here too outside MULTI, but a backend gives the same answer, so they may be queued.)
pub fn answered_by_proxy(name: &str) -> bool {
    matches!(name, "select" | "auth" | "hello" | "readonly" | "readwrite" | "reset")
        || name.starts_with("client|")
        || name.starts_with("cluster|")
}

/// CLIENT LIST [TYPE type] [ID id …]: the proxy's clients (`normal` and `pubsub` ones).
fn client_list(shared: &Shared, args: &[Bytes], out: &mut ReplyWriter) -> Result<(), String> {
    let mut kind = crate::clients::TypeFilter::Any;
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "type") && i + 1 < args.len() {
            let t = String::from_utf8_lossy(&args[i + 1]).to_ascii_lowercase();
            kind = crate::clients::TypeFilter::parse(&t)?;
            i += 2;
        } else if is(&args[i], "id") && i + 1 < args.len() {
            let mut list = Vec::new();
            for a in &args[i + 1..] {
                match protocol::number::parse_i64(a) {
                    Some(n) if n > 0 => list.push(n as u64),
                    _ => return Err("ERR Invalid client ID".into()),
                }
            }
            ids = Some(list);
            i = args.len();
        } else {
            return Err("ERR syntax error".into());
        }
    }
    let mut text = String::new();
    for c in shared.registry.all() {
        if kind.matches(&c) && ids.as_ref().is_none_or(|ids| ids.contains(&c.id)) {
            text.push_str(&c.line());
            text.push('\n');
        }
    }
    out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// CLIENT KILL addr:port (`+OK`), or CLIENT KILL <filter> <value> … (how many were killed).
/// The client itself is closed after this reply.
fn client_kill(
    shared: &Shared,
    session: &mut Session,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<(), String> {
    let old_form = args.len() == 3;
    let filter = if old_form {
        crate::clients::Filter {
            addr: Some(String::from_utf8_lossy(&args[2]).into_owned()),
            ..Default::default()
        }
    } else {
        crate::clients::Filter::parse(&args[2..])?
    };
    let mut killed = 0;
    for c in shared.registry.all() {
        if filter.matches(&c, session.id) {
            if c.id == session.id {
                session.quit = true;
            } else {
                c.kill();
            }
            killed += 1;
        }
    }
    if old_form {
        if killed == 0 {
            return Err("ERR No such client".into());
        }
        out.ok();
    } else {
        out.integer(killed);
    }
    Ok(())
}

/// Checks a password; `username` must be `default` (there are no ACL users).
fn check_password(
    shared: &Shared,
    session: &mut Session,
    username: Option<&[u8]>,
    password: &[u8],
) -> Result<(), String> {
    let required = &shared.config.requirepass;
    let user_ok = username.is_none_or(|u| u == b"default");
    if required.is_empty() {
        if username.is_none() {
            return Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into());
        }
        if user_ok {
            session.authenticated = true;
            return Ok(());
        }
    } else if user_ok && password == required.as_bytes() {
        session.authenticated = true;
        return Ok(());
    }
    Err("WRONGPASS invalid username-password pair or user is disabled.".into())
}

fn hello(
    shared: &Shared,
    session: &mut Session,
    args: &[Bytes],
    out: &mut ReplyWriter,
) -> Result<(), String> {
    let mut i = 1;
    let mut proto = None;
    if args.len() > 1 {
        let v = protocol::number::parse_i64(&args[1])
            .ok_or("ERR Protocol version is not an integer or out of range")?;
        if !(2..=3).contains(&v) {
            return Err("NOPROTO unsupported protocol version".into());
        }
        proto = Some(v);
        i = 2;
    }
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "auth") && more >= 2 {
            check_password(shared, session, Some(&args[i + 1]), &args[i + 2])?;
            i += 3;
        } else if is(&args[i], "setname") && more >= 1 {
            session.name = Some(args[i + 1].clone());
            session.handle.set_name(session.name.clone());
            i += 2;
        } else {
            return Err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            ));
        }
    }
    if !session.authenticated {
        return Err(protocol::redis_text::HELLO_NOAUTH.into());
    }
    if let Some(p) = proto {
        session.resp3 = p == 3;
        out.set_resp3(session.resp3);
    }
    protocol::redis_text::write_hello(out, if session.resp3 { 3 } else { 2 }, session.id as i64);
    Ok(())
}

fn out_command(out: &mut ReplyWriter) {
    out.array(table::TABLE.len());
    for spec in table::TABLE {
        table::write_info(out, spec);
    }
}

fn command_info(args: &[Bytes], out: &mut ReplyWriter) {
    let names = &args[2..];
    if names.is_empty() {
        return out_command(out);
    }
    out.array(names.len());
    for name in names {
        match table::lookup_full_name(name) {
            Some(spec) => table::write_info(out, spec),
            None => out.null(),
        }
    }
}

fn command_docs(args: &[Bytes], out: &mut ReplyWriter) {
    let specs: Vec<&CommandSpec> = if args.len() == 2 {
        table::TABLE.iter().collect()
    } else {
        // Unknown names are left out, as Redis does.
        args[2..].iter().filter_map(|n| table::lookup_full_name(n)).collect()
    };
    out.map(specs.len());
    for spec in specs {
        out.bulk(spec.name.as_bytes());
        table::write_docs(out, spec);
    }
}

/// `host` and `port` of the announce address.
fn host_port(addr: &str) -> (&str, u16) {
    protocol::addr::split_host_port(addr).unwrap_or((addr, 0))
}

fn cluster_info(shared: &Shared, out: &mut ReplyWriter) {
    let routes = shared.router.routes();
    let served = routes.table.assigned_slots();
    let state = if served == protocol::SLOT_COUNT { "ok" } else { "fail" };
    let epoch = shared.router.epoch().max(1);
    let text = format!(
        "cluster_enabled:1\r\ncluster_state:{state}\r\ncluster_slots_assigned:16384\r\n\
         cluster_slots_ok:{served}\r\ncluster_slots_pfail:0\r\ncluster_slots_fail:{}\r\n\
         cluster_known_nodes:1\r\ncluster_size:1\r\ncluster_current_epoch:{epoch}\r\n\
         cluster_my_epoch:{epoch}\r\ncluster_stats_messages_sent:0\r\n\
         cluster_stats_messages_received:0\r\ntotal_cluster_links_buffer_limit_exceeded:0\r\n",
        protocol::SLOT_COUNT - served
    );
    out.verbatim("txt", text.as_bytes());
}

fn cluster_slots(shared: &Shared, out: &mut ReplyWriter) {
    let (host, port) = host_port(&shared.announce);
    out.array(1);
    out.array(3);
    out.integer(0);
    out.integer(i64::from(protocol::routing::LAST_SLOT));
    out.array(4);
    out.bulk(host.as_bytes());
    out.integer(i64::from(port));
    out.bulk(shared.node_id.as_bytes());
    out.map(0);
}

fn cluster_shards(shared: &Shared, out: &mut ReplyWriter) {
    let (host, port) = host_port(&shared.announce);
    out.array(1);
    out.map(2);
    out.bulk(b"slots");
    out.array(2);
    out.integer(0);
    out.integer(i64::from(protocol::routing::LAST_SLOT));
    out.bulk(b"nodes");
    out.array(1);
    out.map(7);
    out.bulk(b"id");
    out.bulk(shared.node_id.as_bytes());
    out.bulk(b"port");
    out.integer(i64::from(port));
    out.bulk(b"ip");
    out.bulk(host.as_bytes());
    out.bulk(b"endpoint");
    out.bulk(host.as_bytes());
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"replication-offset");
    out.integer(0);
    out.bulk(b"health");
    out.bulk(b"online");
}
