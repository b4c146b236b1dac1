//! COMMAND and its subcommands (COUNT, INFO, DOCS, LIST, GETKEYS, GETKEYSANDFLAGS, HELP), shaped
//! like redis-server 7.0's replies. The server describes only the commands it implements
//! ([`crate::cmd::implemented`]); with a container (CLIENT, CONFIG …) come all its
//! subcommands from the table. The encoding of an entry lives in `protocol::command` so the
//! proxy answers the same bytes.

use bytes::Bytes;
use protocol::command::{self as table, acl, CommandSpec, KeyError};

use super::{is, subcommand, Ctx, Handler};
use crate::error::{CmdError, CmdResult};

pub const COMMANDS: &[(&str, Handler)] = &[("command", command)];

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

fn command(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    if args.len() == 1 {
        let all = implemented_sorted();
        ctx.out.array(all.len());
        for spec in all {
            table::write_info(ctx.out, spec);
        }
        return Ok(());
    }
    let this = table::lookup(b"command").expect("COMMAND is in the table");
    let sub = subcommand(this, args)?;
    match sub.short_name() {
        "count" => ctx.out.integer(implemented_sorted().len() as i64),
        "info" => info(ctx, &args[2..]),
        "docs" => docs(ctx, &args[2..]),
        "list" => list(ctx, &args[2..])?,
        "getkeys" => getkeys(ctx, &args[2..], false)?,
        "getkeysandflags" => getkeys(ctx, &args[2..], true)?,
        "help" => {
            ctx.out.array(HELP.len());
            for line in HELP {
                ctx.out.simple(line);
            }
        }
        _ => return Err(super::unknown_subcommand("command", &args[1])),
    }
    Ok(())
}

/// The top-level commands this server implements, sorted by name (Redis's order is its hash
/// table's, i.e. arbitrary; sorted is at least stable).
fn implemented_sorted() -> Vec<&'static CommandSpec> {
    let mut all: Vec<_> = super::implemented().map(|c| c.spec).collect();
    all.sort_by_key(|s| s.name);
    all
}

/// A command or subcommand by its full name (`get`, `client|list`), if this server implements
/// it (a container's subcommands come with it).
fn find_implemented(full_name: &[u8]) -> Option<&'static CommandSpec> {
    let top = full_name.split(|&c| c == b'|').next().unwrap_or(full_name);
    super::lookup(top)?;
    table::lookup_full_name(full_name)
}

fn info(ctx: &mut Ctx, names: &[Bytes]) {
    if names.is_empty() {
        let all = implemented_sorted();
        ctx.out.array(all.len());
        for spec in all {
            table::write_info(ctx.out, spec);
        }
        return;
    }
    ctx.out.array(names.len());
    for name in names {
        match find_implemented(name) {
            Some(spec) => table::write_info(ctx.out, spec),
            None => ctx.out.null(),
        }
    }
}

fn docs(ctx: &mut Ctx, names: &[Bytes]) {
    let specs: Vec<&CommandSpec> = if names.is_empty() {
        implemented_sorted()
    } else {
        // Unknown names are left out, as Redis does.
        names.iter().filter_map(|n| find_implemented(n)).collect()
    };
    ctx.out.map(specs.len());
    for spec in specs {
        ctx.out.bulk(spec.name.as_bytes());
        table::write_docs(ctx.out, spec);
    }
}

/// A COMMAND LIST filter.
enum Filter<'a> {
    None,
    /// No modules exist here: matches nothing.
    Module,
    /// An ACL category; an unknown one matches nothing.
    AclCat(Option<u32>),
    Pattern(&'a [u8]),
}

impl Filter<'_> {
    fn keeps(&self, spec: &CommandSpec) -> bool {
        match self {
            Filter::None => true,
            Filter::Module => false,
            Filter::AclCat(cat) => cat.is_some_and(|c| spec.acl_categories & c != 0),
            Filter::Pattern(p) => glob_match_nocase(p, spec.name.as_bytes()),
        }
    }
}

fn list(ctx: &mut Ctx, opts: &[Bytes]) -> CmdResult {
    let filter = match opts {
        [] => Filter::None,
        [by, kind, arg] if is(by, "filterby") => {
            if is(kind, "module") {
                Filter::Module
            } else if is(kind, "aclcat") {
                Filter::AclCat(acl::by_name(arg))
            } else if is(kind, "pattern") {
                Filter::Pattern(arg)
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    let mut names = Vec::new();
    for spec in implemented_sorted() {
        if filter.keeps(spec) {
            names.push(spec.name);
        }
        names.extend(spec.subcommands.iter().filter(|s| filter.keeps(s)).map(|s| s.name));
    }
    ctx.out.array(names.len());
    for name in names {
        ctx.out.bulk(name.as_bytes());
    }
    Ok(())
}

fn getkeys(ctx: &mut Ctx, cmd: &[Bytes], with_flags: bool) -> CmdResult {
    let spec = super::lookup(&cmd[0]).and_then(|c| {
        if cmd.len() == 1 || c.spec.subcommands.is_empty() {
            Some(c.spec)
        } else {
            c.spec.subcommand(&cmd[1])
        }
    });
    let spec = spec.ok_or_else(|| CmdError::err("Invalid command specified"))?;
    let keys = spec.keys_with_flags(cmd).map_err(|e: KeyError| CmdError::err(e))?;
    ctx.out.array(keys.len());
    for k in keys {
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(&cmd[k.pos]);
            table::write_key_flags(ctx.out, k.flags);
        } else {
            ctx.out.bulk(&cmd[k.pos]);
        }
    }
    Ok(())
}

/// Case-insensitive glob matching (`COMMAND LIST FILTERBY PATTERN`), shared with KEYS/SCAN.
fn glob_match_nocase(pattern: &[u8], text: &[u8]) -> bool {
    crate::glob::matches(pattern, text, true)
}

#[cfg(test)]
mod tests {
    use super::glob_match_nocase as m;

    #[test]
    fn glob_matches_like_redis() {
        assert!(m(b"GE*", b"get"));
        assert!(m(b"client|l*", b"client|list"));
        assert!(m(b"g?t", b"get"));
        assert!(!m(b"g?t", b"gett"));
        assert!(m(b"[a-h]et", b"get"));
        assert!(!m(b"[^g]et", b"get"));
        assert!(m(b"a\\*", b"a*"));
        assert!(!m(b"a\\*", b"ab"));
        assert!(m(b"*a*b*c", b"xxaxxbxxc"));
        assert!(!m(b"*a*b*c", b"xxaxxbxx"));
        let long = vec![b'a'; 10_000];
        assert!(!m(b"*a*a*a*a*a*a*a*b", &long));
    }
}
