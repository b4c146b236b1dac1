//! Glob-style pattern matching with Redis's `stringmatchlen` semantics (KEYS, SCAN MATCH, and
//! later PSUBSCRIBE, CONFIG GET, CLIENT KILL patterns …).
//!
//! Supported: `*` (any run of bytes), `?` (one byte), `[abc]`, `[a-z]`, `[^...]` (negation),
//! `\x` (a literal `x`, also inside brackets), optionally case-insensitive. Redis's quirks are
//! kept because clients see them:
//! - an empty string matches only the empty pattern (so `*` does not match `""`);
//! - a range's ends may come in either order (`[z-a]` is `[a-z]`), and `[a-]` is the range from
//!   `a` to `]`; an unterminated `[` class runs to the end of the pattern;
//! - bytes compare as C's signed `char`, which matters for ranges over bytes >= 0x80;
//! - a pattern that would make Redis recurse through more than 1000 `*` groups matches nothing
//!   (Redis's protection against abusive patterns).
//!
//! Redis recurses once per `*`; this matcher is iterative with a single backtrack point, which
//! gives the same answers because every token other than `*` consumes exactly one byte, and it
//! cannot exhaust the stack or take exponential time whatever the pattern.

/// How many `*` groups Redis's recursive matcher enters before it gives up (`nesting > 1000`).
const MAX_STAR_NESTING: usize = 1000;

/// Whether `string` matches `pattern`, as Redis's `stringmatchlen(pattern, string, nocase)`.
pub fn matches(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    // Redis's main loop runs only while both are non-empty: an empty string matches only an
    // empty pattern.
    if string.is_empty() {
        return pattern.is_empty();
    }
    let (mut p, mut s) = (0usize, 0usize);
    // Where to resume after a mismatch: the pattern just past the last `*` group and the string
    // position that star currently stops at.
    let mut backtrack: Option<(usize, usize)> = None;
    let mut stars = 0usize;
    loop {
        if s == string.len() {
            // The string is consumed: only trailing stars may remain.
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            return p == pattern.len();
        }
        if p == pattern.len() {
            // Pattern exhausted with string left over: let the last star swallow one more byte.
            match backtrack {
                Some((bp, bs)) => {
                    p = bp;
                    s = bs + 1;
                    backtrack = Some((bp, s));
                    continue;
                }
                None => return false,
            }
        }
        if pattern[p] == b'*' {
            while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                p += 1;
            }
            if p + 1 == pattern.len() {
                return true;
            }
            // Redis recurses here with nesting + 1; past 1000 every attempt fails.
            stars += 1;
            if stars > MAX_STAR_NESTING {
                return false;
            }
            p += 1;
            // The star starts by matching nothing. An earlier star's backtrack point is dropped:
            // once a later star is reached, a longer match for an earlier star can never help
            // (the same argument as Redis's `skipLongerMatches`).
            backtrack = Some((p, s));
            continue;
        }
        let (ok, next) = match_token(pattern, p, string[s], nocase);
        if ok {
            p = next;
            s += 1;
        } else {
            match backtrack {
                Some((bp, bs)) => {
                    p = bp;
                    s = bs + 1;
                    backtrack = Some((bp, s));
                }
                None => return false,
            }
        }
    }
}

/// C's `tolower` on a signed `char` value: only ASCII letters change.
fn lower(c: i32) -> i32 {
    if (b'A' as i32..=b'Z' as i32).contains(&c) {
        c + 32
    } else {
        c
    }
}

/// The byte at `i` as C's signed `char`, or 0 past the end (Redis reads the string's NUL
/// terminator there).
fn at(pattern: &[u8], i: usize) -> i32 {
    pattern.get(i).map_or(0, |&b| b as i8 as i32)
}

/// Matches the one non-`*` token starting at `pattern[p]` against byte `c`; returns whether it
/// matched and where the next token starts. Mirrors the `?`, `[` and default cases of Redis's
/// `stringmatchlen_impl`, including how it treats malformed classes.
fn match_token(pattern: &[u8], mut p: usize, c: u8, nocase: bool) -> (bool, usize) {
    let end = pattern.len();
    let c = c as i8 as i32;
    let eq = |a: i32, b: i32| if nocase { lower(a) == lower(b) } else { a == b };
    match pattern[p] {
        b'?' => (true, p + 1),
        b'[' => {
            p += 1;
            let not = at(pattern, p) == b'^' as i32;
            if not {
                p += 1;
            }
            let mut matched = false;
            loop {
                let left = end.saturating_sub(p);
                let pc = at(pattern, p);
                if pc == b'\\' as i32 && left >= 2 {
                    p += 1;
                    if at(pattern, p) == c {
                        matched = true;
                    }
                } else if pc == b']' as i32 && left > 0 {
                    break;
                } else if left == 0 {
                    // Unterminated class: Redis steps back so that the common `pattern++`
                    // after the token lands exactly on the end.
                    p -= 1;
                    break;
                } else if left >= 3 && at(pattern, p + 1) == b'-' as i32 {
                    let (mut start, mut stop) = (pc, at(pattern, p + 2));
                    let mut ch = c;
                    if start > stop {
                        std::mem::swap(&mut start, &mut stop);
                    }
                    if nocase {
                        start = lower(start);
                        stop = lower(stop);
                        ch = lower(ch);
                    }
                    p += 2;
                    if ch >= start && ch <= stop {
                        matched = true;
                    }
                } else if eq(pc, c) {
                    matched = true;
                }
                p += 1;
            }
            if not {
                matched = !matched;
            }
            (matched, p + 1)
        }
        b'\\' => {
            if end - p >= 2 {
                p += 1;
            }
            (eq(at(pattern, p), c), p + 1)
        }
        _ => (eq(at(pattern, p), c), p + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes(), false)
    }

    /// A direct port of Redis 7.0's recursive `stringmatchlen_impl`, as the oracle.
    fn redis(p: &[u8], s: &[u8], nocase: bool) -> bool {
        fn imp(p: &[u8], s: &[u8], nocase: bool, skip: &mut bool, nesting: usize) -> bool {
            if nesting > 1000 {
                return false;
            }
            let (mut pi, mut si) = (0usize, 0usize);
            let get = |i: usize| -> i32 { p.get(i).map_or(0, |&b| b as i8 as i32) };
            while pi < p.len() && si < s.len() {
                let sc = s[si] as i8 as i32;
                match p[pi] {
                    b'*' => {
                        while pi + 1 < p.len() && p[pi + 1] == b'*' {
                            pi += 1;
                        }
                        if pi + 1 == p.len() {
                            return true;
                        }
                        while si < s.len() {
                            if imp(&p[pi + 1..], &s[si..], nocase, skip, nesting + 1) {
                                return true;
                            }
                            if *skip {
                                return false;
                            }
                            si += 1;
                        }
                        *skip = true;
                        return false;
                    }
                    b'?' => si += 1,
                    b'[' => {
                        pi += 1;
                        let not = get(pi) == b'^' as i32;
                        if not {
                            pi += 1;
                        }
                        let mut matched = false;
                        loop {
                            let left = p.len() - pi;
                            if get(pi) == b'\\' as i32 && left >= 2 {
                                pi += 1;
                                if get(pi) == sc {
                                    matched = true;
                                }
                            } else if get(pi) == b']' as i32 && left > 0 {
                                break;
                            } else if left == 0 {
                                pi -= 1;
                                break;
                            } else if left >= 3 && get(pi + 1) == b'-' as i32 {
                                let (mut a, mut b) = (get(pi), get(pi + 2));
                                let mut c = sc;
                                if a > b {
                                    std::mem::swap(&mut a, &mut b);
                                }
                                if nocase {
                                    a = lower(a);
                                    b = lower(b);
                                    c = lower(c);
                                }
                                pi += 2;
                                if c >= a && c <= b {
                                    matched = true;
                                }
                            } else if (nocase && lower(get(pi)) == lower(sc)) || get(pi) == sc {
                                matched = true;
                            }
                            pi += 1;
                        }
                        if not {
                            matched = !matched;
                        }
                        if !matched {
                            return false;
                        }
                        si += 1;
                    }
                    other => {
                        if other == b'\\' && p.len() - pi >= 2 {
                            pi += 1;
                        }
                        let pc = get(pi);
                        let eq = if nocase { lower(pc) == lower(sc) } else { pc == sc };
                        if !eq {
                            return false;
                        }
                        si += 1;
                    }
                }
                pi += 1;
                if si == s.len() {
                    while pi < p.len() && p[pi] == b'*' {
                        pi += 1;
                    }
                    break;
                }
            }
            pi == p.len() && si == s.len()
        }
        imp(p, s, nocase, &mut false, 0)
    }

    #[test]
    fn basics() {
        assert!(m("*", "anything"));
        assert!(!m("*", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("[\\]]", "]"));
        assert!(m("a*", "a"));
        assert!(m("a**", "a"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
    }

    #[test]
    fn quirks() {
        // `[a-]` is the range between 'a' and ']' (in either order): `]`, `^`, … but not `b`.
        assert!(m("[a-]", "^"));
        assert!(!m("[a-]", "b"));
        // An unterminated class runs to the end.
        assert!(m("x[ab", "xa"));
        assert!(!m("x[", "x["));
        // `[^` at the end matches any byte.
        assert!(m("x[^", "xq"));
        // A trailing backslash is literal.
        assert!(m("a\\", "a\\"));
        assert!(matches(b"HeLLo", b"hello", true));
        assert!(matches(b"[A-C]x", b"bX", true));
        assert!(!matches(b"HeLLo", b"hello", false));
        // Bytes >= 0x80 are negative as C chars: 0xff sorts below 'a'.
        assert!(matches(b"[\xff-a]", b"\x00", false));
        assert!(!matches(b"[a-\xff]", b"b", false));
    }

    #[test]
    fn nesting_limit_like_redis() {
        let s = vec![b'a'; 1200];
        let ok: Vec<u8> = b"a*".repeat(1000).into_iter().chain(*b"a").collect();
        let too_deep: Vec<u8> = b"a*".repeat(1001).into_iter().chain(*b"a").collect();
        assert!(matches(&ok, &s, false));
        assert!(!matches(&too_deep, &s, false));
        assert_eq!(redis(&ok, &s, false), matches(&ok, &s, false));
        assert_eq!(redis(&too_deep, &s, false), matches(&too_deep, &s, false));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let s = vec![b'a'; 100_000];
        let mut p = b"a*".repeat(900);
        p.push(b'b');
        let started = std::time::Instant::now();
        assert!(!matches(&p, &s, false));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // And a very long pattern cannot blow the stack.
        let long = vec![b'*'; 10_000_000];
        assert!(matches(&long, b"x", false));
    }

    #[test]
    fn agrees_with_redis_on_random_inputs() {
        use rand::{Rng, SeedableRng};
        let alphabet = b"ab*?[]^-\\A\xff";
        for seed in 0..20u64 {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            for _ in 0..5000 {
                let plen = rng.random_range(0..8);
                let slen = rng.random_range(0..6);
                let p: Vec<u8> =
                    (0..plen).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
                let s: Vec<u8> =
                    (0..slen).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
                for nocase in [false, true] {
                    assert_eq!(
                        matches(&p, &s, nocase),
                        redis(&p, &s, nocase),
                        "pattern {:?} string {:?} nocase {nocase}",
                        String::from_utf8_lossy(&p),
                        String::from_utf8_lossy(&s)
                    );
                }
            }
        }
    }
}
