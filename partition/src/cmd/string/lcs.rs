//! LCS: the longest common subsequence of two strings, with Redis 7.0's options and its exact
//! choice among equally long answers (the table walk below is Redis's, step for step).

use bytes::Bytes;

use crate::cmd::lookup_read;
use crate::cmd::{is, parse_int, Ctx};
use crate::error::{CmdError, CmdResult};

/// One matched range: positions in the first and second string (inclusive) and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub a: (u32, u32),
    pub b: (u32, u32),
    pub len: u32,
}

/// The result of the table walk.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Lcs {
    /// Length of the longest common subsequence.
    pub len: u32,
    /// The subsequence itself (when asked for).
    pub text: Vec<u8>,
    /// Matched ranges from the end of the strings backwards, those shorter than the minimum
    /// left out (when asked for).
    pub matches: Vec<Match>,
}

/// Bytes of the dynamic-programming table for strings of these lengths.
pub fn table_bytes(alen: usize, blen: usize) -> u128 {
    (alen as u128 + 1) * (blen as u128 + 1) * 4
}

/// Computes the LCS of `a` and `b`. `want_walk` asks for the text and ranges, which need the
/// walk back through the table; `min_match` filters the ranges.
pub fn compute(a: &[u8], b: &[u8], want_walk: bool, min_match: u64) -> Lcs {
    let (alen, blen) = (a.len(), b.len());
    let width = blen + 1;
    let mut table = vec![0u32; (alen + 1) * width];
    for i in 1..=alen {
        for j in 1..=blen {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let len = table[alen * width + blen];
    let mut out = Lcs { len, ..Lcs::default() };
    if !want_walk {
        return out;
    }
    let mut text = vec![0u8; len as usize];
    let mut idx = len as usize;
    // `None` means no range is being tracked.
    let mut range: Option<(usize, usize, usize, usize)> = None; // a_start, a_end, b_start, b_end
    let (mut i, mut j) = (alen, blen);
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            text[idx - 1] = a[i - 1];
            match &mut range {
                None => range = Some((i - 1, i - 1, j - 1, j - 1)),
                Some((a_start, _, b_start, _)) => {
                    if *a_start == i && *b_start == j {
                        *a_start -= 1;
                        *b_start -= 1;
                    } else {
                        emit = true;
                    }
                }
            }
            if let Some((a_start, _, b_start, _)) = range {
                if a_start == 0 || b_start == 0 {
                    emit = true;
                }
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            let up = table[(i - 1) * width + j];
            let left = table[i * width + j - 1];
            if up > left {
                i -= 1;
            } else {
                j -= 1;
            }
            if range.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some((a_start, a_end, b_start, b_end)) = range.take() {
                let match_len = (a_end - a_start + 1) as u64;
                if min_match == 0 || match_len >= min_match {
                    out.matches.push(Match {
                        a: (a_start as u32, a_end as u32),
                        b: (b_start as u32, b_end as u32),
                        len: match_len as u32,
                    });
                }
            }
        }
    }
    out.text = text;
    out
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`
pub fn lcs(ctx: &mut Ctx, args: &[Bytes]) -> CmdResult {
    let now = ctx.now_ms;
    // Both keys are looked up (and counted as reads) before anything else is checked.
    let a_is_string =
        lookup_read(ctx.state, &args[1], now, !ctx.client.no_touch).map(|e| e.value.is_string());
    let b_is_string =
        lookup_read(ctx.state, &args[2], now, !ctx.client.no_touch).map(|e| e.value.is_string());
    if a_is_string == Some(false) || b_is_string == Some(false) {
        return Err(CmdError::err("The specified keys must contain string values"));
    }
    let (mut get_len, mut get_idx, mut with_match_len) = (false, false, false);
    let mut min_match: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = &args[j];
        if is(opt, "idx") {
            get_idx = true;
        } else if is(opt, "len") {
            get_len = true;
        } else if is(opt, "withmatchlen") {
            with_match_len = true;
        } else if is(opt, "minmatchlen") && j + 1 < args.len() {
            min_match = parse_int(&args[j + 1])?.max(0);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if get_len && get_idx {
        return Err(CmdError::err("If you want both the length and indexes, please just use IDX."));
    }
    let ks = &ctx.state.keyspace;
    let a = ks.peek(&args[1], now).map(|e| e.value.as_string()).transpose()?;
    let b = ks.peek(&args[2], now).map(|e| e.value.as_string()).transpose()?;
    let a: &[u8] = a.as_deref().unwrap_or(b"");
    let b: &[u8] = b.as_deref().unwrap_or(b"");
    if a.len() as u64 >= u32::MAX as u64 - 1 || b.len() as u64 >= u32::MAX as u64 - 1 {
        return Err(CmdError::err("String too long for LCS"));
    }
    // The table is transient memory: Redis caps it at proto-max-bulk-len rather than let one
    // command allocate without bound.
    if table_bytes(a.len(), b.len()) > ctx.server.config().proto_max_bulk_len as u128 {
        return Err(CmdError::err(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let result = compute(a, b, get_idx || !get_len, min_match as u64);
    let out = &mut *ctx.out;
    if get_idx {
        out.map(2);
        out.bulk(b"matches");
        out.array(result.matches.len());
        for m in &result.matches {
            out.array(2 + usize::from(with_match_len));
            out.array(2);
            out.integer(m.a.0 as i64);
            out.integer(m.a.1 as i64);
            out.array(2);
            out.integer(m.b.0 as i64);
            out.integer(m.b.1 as i64);
            if with_match_len {
                out.integer(m.len as i64);
            }
        }
        out.bulk(b"len");
        out.integer(result.len as i64);
    } else if get_len {
        out.integer(result.len as i64);
    } else {
        out.bulk(&result.text);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_redis_documented_answer() {
        // The example of Redis's LCS documentation.
        let r = compute(b"ohmytext", b"mynewtext", true, 0);
        assert_eq!(r.len, 6);
        assert_eq!(r.text, b"mytext");
        assert_eq!(
            r.matches,
            vec![Match { a: (4, 7), b: (5, 8), len: 4 }, Match { a: (2, 3), b: (0, 1), len: 2 },]
        );
        let r = compute(b"ohmytext", b"mynewtext", true, 4);
        assert_eq!(r.matches.len(), 1);
    }

    #[test]
    fn empty_and_disjoint_strings() {
        assert_eq!(compute(b"", b"abc", true, 0), Lcs::default());
        let r = compute(b"abc", b"xyz", true, 0);
        assert_eq!((r.len, r.text.len(), r.matches.len()), (0, 0, 0));
        let r = compute(b"abc", b"abc", false, 0);
        assert_eq!(r.len, 3);
        assert!(r.text.is_empty());
    }
}
