//! Geo commands: a layer over sorted sets, as Redis 7.0's `geo.c`. A position is stored as
//! the member's score: a 52-bit geohash (26 bits each of longitude and latitude, interleaved)
//! over Redis's Web-Mercator latitude limits, so GEOPOS returns the centre of the cell.
//!
//! Searches (GEOSEARCH, GEORADIUS …) read the geohash cells covering the shape with score
//! range queries, in Redis's cell order, and test each member found with Redis's distance
//! formulas on its decoded cell centre. Results are ordered by distance when asked (ASC/DESC,
//! or implied by COUNT), otherwise in the order the cells were read.
//!
//! # Layout
//! - [`hash`]: geohash encoding/decoding, cells and distances.
//! - [`search`]: which cells a search reads and the members it finds there.
//! - this file: argument parsing and the commands.

pub mod hash;
pub mod search;

use bytes::Bytes;
use protocol::ReplyWriter;

use super::zset::{limits, parse_score};
use super::{is, lookup_read, parse_int, Ctx, Handler};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Entry;
use crate::notify;
use crate::time::lru_clock;
use crate::types::zset::{Limits, ZSet};
use crate::value::Value;
use search::{Point, Query, Shape};

pub const COMMANDS: &[(&str, Handler)] = &[
    ("geoadd", geoadd),
    ("geopos", geopos),
    ("geodist", geodist),
    ("geohash", geohash),
    ("geosearch", geosearch),
    ("geosearchstore", geosearchstore),
    ("georadius", georadius),
    ("georadius_ro", georadius_ro),
    ("georadiusbymember", georadiusbymember),
    ("georadiusbymember_ro", georadiusbymember_ro),
];

/// Redis's `extractLongLatOrReply`: two floats inside the indexable range.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), CmdError> {
    let lon = parse_score(lon).ok_or(CmdError::NotFloat)?;
    let lat = parse_score(lat).ok_or(CmdError::NotFloat)?;
    if !hash::valid(lon, lat) {
        return Err(CmdError::err(format!("invalid longitude,latitude pair {lon:.6},{lat:.6}")));
    }
    Ok((lon, lat))
}

/// Meters per unit (Redis's `extractUnitOrReply`).
fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    if is(arg, "m") {
        Ok(1.0)
    } else if is(arg, "km") {
        Ok(1000.0)
    } else if is(arg, "ft") {
        Ok(0.3048)
    } else if is(arg, "mi") {
        Ok(1609.34)
    } else {
        Err(CmdError::err("unsupported unit provided. please use M, KM, FT, MI"))
    }
}

/// A non-negative float with the given error text.
fn distance_arg(arg: &[u8], not_numeric: &str) -> Result<f64, CmdError> {
    parse_score(arg).ok_or_else(|| CmdError::err(not_numeric))
}

/// GEOPOS/WITHCOORD coordinates: `%.17Lf` with trailing zeros trimmed, a RESP3 double or a
/// RESP2 bulk string (Redis's `addReplyHumanLongDouble`).
fn reply_coord(out: &mut ReplyWriter, d: f64) {
    let mut text = format!("{d:.17}");
    if text.contains('.') {
        let t = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(t);
    }
    if out.resp3() {
        out.raw(b",");
        out.raw(text.as_bytes());
        out.raw(b"\r\n");
    } else {
        out.bulk(text.as_bytes());
    }
}

/// Distances: four decimals as a bulk string in both protocols. Redis (`fixedpoint_d2string`)
/// rounds `d * 10000` to an integer, half to even, rather than formatting `d` exactly: the
/// last digit differs from `%.4f` when the product's rounding crosses a half.
fn reply_dist(out: &mut ReplyWriter, d: f64) {
    let scaled = (d * 10000.0).round_ties_even();
    // `llrint` out of range yields i64::MIN on x86-64.
    let v = if scaled.abs() < 9.2e18 { scaled as i64 } else { i64::MIN };
    let sign = if v < 0 { "-" } else { "" };
    let abs = v.unsigned_abs();
    out.bulk(format!("{sign}{}.{:04}", abs / 10000, abs % 10000).as_bytes());
}

fn read_zset<'a>(ctx: &'a mut Ctx, key: &[u8]) -> Result<Option<&'a ZSet>, CmdError> {
    match lookup_read(ctx.state, key, ctx.now_ms, !ctx.client.no_touch) {
        None => Ok(None),
        Some(e) => Ok(Some(e.value.as_zset()?)),
    }
}

fn geoadd(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let (mut nx, mut xx, mut ch) = (false, false, false);
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "nx") {
            nx = true;
        } else if is(&args[i], "xx") {
            xx = true;
        } else if is(&args[i], "ch") {
            ch = true;
        } else {
            break;
        }
        i += 1;
    }
    let rest = &args[i..];
    if !rest.len().is_multiple_of(3) || (nx && xx) {
        return Err(CmdError::Syntax);
    }
    let mut points = Vec::with_capacity(rest.len() / 3);
    for t in rest.chunks_exact(3) {
        let (lon, lat) = lon_lat(&t[0], &t[1])?;
        points.push((hash::encode(lon, lat) as f64, &t[2][..]));
    }
    let key = &args[1];
    let now = ctx.now_ms;
    let zlimits = limits(ctx.state);
    let zs = match super::lookup_write(ctx.state, key, now) {
        Some(e) => e.value.as_zset_mut()?,
        None if xx => {
            ctx.out.integer(0);
            return Ok(());
        }
        None => {
            let lru = lru_clock(now);
            let (e, _) = ctx
                .state
                .keyspace
                .get_or_insert_with(key, now, || Entry::new(Value::ZSet(ZSet::default()), lru));
            e.value.as_zset_mut()?
        }
    };
    let (mut added, mut updated) = (0i64, 0i64);
    for (score, member) in points {
        match zs.score(member) {
            Some(_) if nx => {}
            Some(cur) => {
                if cur != score {
                    zs.set_score(member, cur, score);
                    updated += 1;
                }
            }
            None if xx => {}
            None => {
                let l = if zs.is_listpack() { zlimits } else { Limits::NONE };
                zs.insert(member, score, l);
                added += 1;
            }
        }
    }
    ctx.out.integer(if ch { added + updated } else { added });
    if added + updated > 0 {
        ctx.signal_modified(key);
        ctx.notify(notify::ZSET, "zadd", key);
    }
    ctx.dirty((added + updated) as u64);
    Ok(())
}

fn geopos(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let scores: Vec<Option<f64>> = {
        let zs = read_zset(ctx, &args[1])?;
        args[2..].iter().map(|m| zs.and_then(|z| z.score(m))).collect()
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => {
                let (lon, lat) = hash::decode(s as u64);
                ctx.out.array(2);
                reply_coord(ctx.out, lon);
                reply_coord(ctx.out, lat);
            }
            None => ctx.out.null_array(),
        }
    }
    Ok(())
}

fn geodist(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let to_meters = match args.len() {
        4 => 1.0,
        5 => unit(&args[4])?,
        _ => return Err(CmdError::Syntax),
    };
    let found = read_zset(ctx, &args[1])?.map(|z| (z.score(&args[2]), z.score(&args[3])));
    match found {
        Some((Some(a), Some(b))) => {
            let (lon1, lat1) = hash::decode(a as u64);
            let (lon2, lat2) = hash::decode(b as u64);
            reply_dist(ctx.out, hash::distance(lon1, lat1, lon2, lat2) / to_meters);
        }
        _ => ctx.out.null(),
    }
    Ok(())
}

fn geohash(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let scores: Vec<Option<f64>> = {
        let zs = read_zset(ctx, &args[1])?;
        args[2..].iter().map(|m| zs.and_then(|z| z.score(m))).collect()
    };
    ctx.out.array(scores.len());
    for s in scores {
        match s {
            Some(s) => ctx.out.bulk(&hash::to_base32(s as u64)),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Searches

const COORDS: u8 = 1;
const MEMBER: u8 = 2;
const SEARCH: u8 = 4;
const SEARCHSTORE: u8 = 8;
const NOSTORE: u8 = 16;

#[derive(Clone, Copy, PartialEq)]
enum Sort {
    None,
    Asc,
    Desc,
}

fn geosearch(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search(ctx, args, 1, SEARCH)
}

fn geosearchstore(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search(ctx, args, 2, SEARCH | SEARCHSTORE)
}

fn georadius(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search(ctx, args, 1, COORDS)
}

fn georadius_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search(ctx, args, 1, COORDS | NOSTORE)
}

fn georadiusbymember(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search(ctx, args, 1, MEMBER)
}

fn georadiusbymember_ro(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    search(ctx, args, 1, MEMBER | NOSTORE)
}

/// Radius and unit (Redis's `extractDistanceOrReply`): the radius in the unit, and the unit's
/// size in meters.
fn radius(args: &[Bytes]) -> Result<(f64, f64), CmdError> {
    let r = distance_arg(&args[0], "need numeric radius")?;
    if r < 0.0 {
        return Err(CmdError::err("radius cannot be negative"));
    }
    Ok((r, unit(&args[1])?))
}

/// The position of `member` in `zs`.
fn member_pos(zs: &ZSet, member: &[u8]) -> Result<(f64, f64), CmdError> {
    zs.score(member)
        .map(|s| hash::decode(s as u64))
        .ok_or_else(|| CmdError::err("could not decode requested zset member"))
}

/// A parsed search command.
struct Request<'a> {
    query: Query,
    store: Option<&'a [u8]>,
    storedist: bool,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    sort: Sort,
    any: bool,
    /// 0: no COUNT.
    count: i64,
}

/// Parses a search command the way Redis's `georadiusGeneric` does, errors in the same order;
/// `zs` (the source set, if any) resolves a member centre.
fn parse_search<'a>(
    zs: Option<&ZSet>,
    args: &'a [Bytes],
    flags: u8,
) -> Result<Request<'a>, CmdError> {
    let has = |f: u8| flags & f != 0;
    let mut query = Query { lon: 0.0, lat: 0.0, shape: Shape::Radius(0.0), conversion: 1.0 };
    let mut store: Option<&[u8]> = None;
    let mut storedist = false;
    let base = if has(COORDS) {
        (query.lon, query.lat) = lon_lat(&args[2], &args[3])?;
        let (r, c) = radius(&args[4..6])?;
        query.shape = Shape::Radius(r);
        query.conversion = c;
        6
    } else if has(MEMBER) {
        if let Some(z) = zs {
            (query.lon, query.lat) = member_pos(z, &args[2])?;
            let (r, c) = radius(&args[3..5])?;
            query.shape = Shape::Radius(r);
            query.conversion = c;
        }
        5
    } else if has(SEARCHSTORE) {
        store = Some(&args[1]);
        3
    } else {
        2
    };
    let (mut withdist, mut withhash, mut withcoord) = (false, false, false);
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut sort = Sort::None;
    let mut any = false;
    let mut count: i64 = 0;
    let rest = &args[base..];
    let remaining = rest.len();
    let mut i = 0;
    while i < remaining {
        let a = &rest[i];
        if is(a, "withdist") {
            withdist = true;
        } else if is(a, "withhash") {
            withhash = true;
        } else if is(a, "withcoord") {
            withcoord = true;
        } else if is(a, "any") {
            any = true;
        } else if is(a, "asc") {
            sort = Sort::Asc;
        } else if is(a, "desc") {
            sort = Sort::Desc;
        } else if is(a, "count") && i + 1 < remaining {
            count = parse_int(&rest[i + 1])?;
            if count <= 0 {
                return Err(CmdError::err("COUNT must be > 0"));
            }
            i += 1;
        } else if (is(a, "store") || is(a, "storedist"))
            && i + 1 < remaining
            && !has(NOSTORE)
            && !has(SEARCH)
        {
            store = Some(&rest[i + 1]);
            storedist = is(a, "storedist");
            i += 1;
        } else if is(a, "storedist") && has(SEARCH) && has(SEARCHSTORE) {
            storedist = true;
        } else if is(a, "frommember") && i + 1 < remaining && has(SEARCH) && !fromloc {
            if let Some(z) = zs {
                (query.lon, query.lat) = member_pos(z, &rest[i + 1])?;
            }
            frommember = true;
            i += 1;
        } else if is(a, "fromlonlat") && i + 2 < remaining && has(SEARCH) && !frommember {
            (query.lon, query.lat) = lon_lat(&rest[i + 1], &rest[i + 2])?;
            fromloc = true;
            i += 2;
        } else if is(a, "byradius") && i + 2 < remaining && has(SEARCH) && !bybox {
            let (r, c) = radius(&rest[i + 1..i + 3])?;
            query.shape = Shape::Radius(r);
            query.conversion = c;
            byradius = true;
            i += 2;
        } else if is(a, "bybox") && i + 3 < remaining && has(SEARCH) && !byradius {
            let width = distance_arg(&rest[i + 1], "need numeric width")?;
            let height = distance_arg(&rest[i + 2], "need numeric height")?;
            if width < 0.0 || height < 0.0 {
                return Err(CmdError::err("height or width cannot be negative"));
            }
            query.conversion = unit(&rest[i + 3])?;
            query.shape = Shape::Box { width, height };
            bybox = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        let what = if has(SEARCHSTORE) { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return Err(CmdError::err(format!(
            "{what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
        )));
    }
    if has(SEARCH) && !(frommember || fromloc) {
        let name = String::from_utf8_lossy(&args[0]);
        return Err(CmdError::err(format!(
            "exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if has(SEARCH) && !(byradius || bybox) {
        let name = String::from_utf8_lossy(&args[0]);
        return Err(CmdError::err(format!(
            "exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count == 0 {
        return Err(CmdError::err("the ANY argument requires COUNT argument"));
    }
    if count != 0 && sort == Sort::None && !any {
        sort = Sort::Asc;
    }
    Ok(Request { query, store, storedist, withdist, withhash, withcoord, sort, any, count })
}

/// Redis's `georadiusGeneric`: every search command.
fn search(ctx: &mut Ctx, args: &[Bytes], src: usize, flags: u8) -> CmdResult {
    let (req, found) = {
        let zs = read_zset(ctx, &args[src])?;
        let req = parse_search(zs, args, flags)?;
        let limit = req.any.then_some(req.count as usize);
        let found = zs.map(|z| req.query.run(z, limit));
        (req, found)
    };
    let conversion = req.query.conversion;
    let Some(mut found) = found else {
        match req.store {
            Some(dst) => {
                if ctx.state.keyspace.remove(dst).is_some() {
                    ctx.signal_modified(dst);
                    ctx.notify(notify::GENERIC, "del", dst);
                    ctx.dirty(1);
                }
                ctx.out.integer(0);
            }
            None => ctx.out.empty_array(),
        }
        return Ok(());
    };
    let returned = if req.count == 0 { found.len() } else { found.len().min(req.count as usize) };
    // Redis sorts by distance alone: every result with glibc's qsort (a stable merge sort,
    // ties keep the search order), or only the first COUNT with its own partial quicksort,
    // whose order of ties is reproduced by `partial_sort`.
    let desc = |a: &Point, b: &Point| search::by_distance(a, b).reverse();
    match (req.sort, returned == found.len()) {
        (Sort::None, _) => {}
        (Sort::Asc, true) => found.sort_by(search::by_distance),
        (Sort::Desc, true) => found.sort_by(desc),
        (Sort::Asc, false) => search::partial_sort(&mut found, returned, search::by_distance),
        (Sort::Desc, false) => search::partial_sort(&mut found, returned, desc),
    }
    found.truncate(returned);
    if let Some(dst) = req.store {
        let items: Vec<(&[u8], f64)> = found
            .iter()
            .map(|p| (&p.member[..], if req.storedist { p.dist / conversion } else { p.score }))
            .collect();
        let zs = ZSet::from_items(items.iter().copied(), limits(ctx.state));
        if returned > 0 {
            let entry = Entry::new(Value::ZSet(zs), lru_clock(ctx.now_ms));
            ctx.state.keyspace.set(dst, entry);
            ctx.signal_modified(dst);
            let event = if flags & SEARCH != 0 { "geosearchstore" } else { "georadiusstore" };
            ctx.notify(notify::ZSET, event, dst);
            ctx.dirty(returned as u64);
        } else if ctx.state.keyspace.remove(dst).is_some() {
            ctx.signal_modified(dst);
            ctx.notify(notify::GENERIC, "del", dst);
            ctx.dirty(1);
        }
        ctx.out.integer(returned as i64);
        return Ok(());
    }
    let options =
        usize::from(req.withdist) + usize::from(req.withhash) + usize::from(req.withcoord);
    let out = &mut *ctx.out;
    out.array(returned);
    for p in &found {
        if options > 0 {
            out.array(options + 1);
        }
        out.bulk(&p.member);
        if req.withdist {
            reply_dist(out, p.dist / conversion);
        }
        if req.withhash {
            out.integer(p.score as i64);
        }
        if req.withcoord {
            out.array(2);
            reply_coord(out, p.lon);
            reply_coord(out, p.lat);
        }
    }
    Ok(())
}
