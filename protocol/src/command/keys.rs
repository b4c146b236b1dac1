//! Key extraction: which arguments of a command are keys, found exactly as redis-server 7.0
//! finds them (`getKeysFromCommandWithSpecs` in db.c): the key specs first, and the command's
//! native procedure when the specs can't tell (movable keys with a bad `numkeys`, SORT's
//! STORE, MIGRATE's KEYS, SET's variable flags …). COMMAND GETKEYS answers with it, and the proxy
//! routes with it.

use super::{key_flags, BeginSearch, CommandSpec, FindKeys, GetKeys};
use crate::command::flags;

/// A key found in a command: its argument index and how the command uses it (a bitset of
/// [`key_flags`]; 0 where Redis's native procedure gives no flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRef {
    pub pos: usize,
    pub flags: u32,
}

/// Why no keys could be extracted; `Display` is the text COMMAND GETKEYS replies after `ERR `.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The command takes no keys at all.
    #[error("The command has no key arguments")]
    NoKeys,
    /// The argument count doesn't match the arity.
    #[error("Invalid number of arguments specified for command")]
    WrongArgCount,
    /// The arguments name no key (e.g. `numkeys` is 0 or not a number) though keys are mandatory.
    #[error("Invalid arguments specified for command")]
    InvalidArgs,
}

impl CommandSpec {
    /// Whether the command can have keys at all (Redis's `doesCommandHaveKeys`).
    pub fn has_keys(&self) -> bool {
        self.get_keys.is_some() || self.key_specs.iter().any(|s| s.flags & key_flags::NOT_KEY == 0)
    }

    /// The key positions of a command whose keys don't move (no `movablekeys` flag), from the
    /// legacy first/last/step range, without allocating: what a router needs per command.
    /// `None` for a command with movable keys (use [`CommandSpec::key_indices`]); an empty
    /// range for a command without keys.
    pub fn fixed_key_range(
        &self,
        argc: usize,
    ) -> Option<std::iter::StepBy<std::ops::Range<usize>>> {
        if self.has(flags::MOVABLE_KEYS) {
            return None;
        }
        if self.first_key <= 0 || argc <= self.first_key as usize {
            return Some((0..0).step_by(1));
        }
        let last = if self.last_key < 0 {
            argc as i64 + self.last_key as i64
        } else {
            self.last_key as i64
        };
        let last = (last.max(0) as usize).min(argc - 1);
        let step = self.step.max(1) as usize;
        Some((self.first_key as usize..last + 1).step_by(step))
    }

    /// Where a command's keys are among `args`: the legacy fixed positions, or the key specs
    /// (and native procedures) for commands whose keys move (ZUNIONSTORE, EVAL …). Empty when
    /// none can be found (a malformed command, which then fails on its own).
    pub fn key_indices(&self, args: &[impl AsRef<[u8]>]) -> Vec<usize> {
        match self.fixed_key_range(args.len()) {
            Some(range) => range.collect(),
            None => self.key_positions(args).unwrap_or_default(),
        }
    }

    /// Argument indexes of the keys of `args` (the whole command, `args[0]` being its name, and
    /// `args[1]` the subcommand's name for a subcommand), as COMMAND GETKEYS finds them.
    pub fn key_positions(&self, args: &[impl AsRef<[u8]>]) -> Result<Vec<usize>, KeyError> {
        Ok(self.keys_with_flags(args)?.into_iter().map(|k| k.pos).collect())
    }

    /// The keys of `args` with their access flags, as COMMAND GETKEYSANDFLAGS finds them.
    pub fn keys_with_flags(&self, args: &[impl AsRef<[u8]>]) -> Result<Vec<KeyRef>, KeyError> {
        if !self.has_keys() {
            return Err(KeyError::NoKeys);
        }
        if !self.arity_ok(args.len()) {
            return Err(KeyError::WrongArgCount);
        }
        let keys = self.find_keys(args);
        if keys.is_empty() && !self.has(flags::NO_MANDATORY_KEYS) {
            return Err(KeyError::InvalidArgs);
        }
        Ok(keys)
    }

    /// Redis's `getKeysFromCommandWithSpecs`: specs when they are reliable, else the native
    /// procedure. Empty when nothing is found.
    fn find_keys(&self, args: &[impl AsRef<[u8]>]) -> Vec<KeyRef> {
        let usable_spec = self.key_specs.iter().any(|s| s.flags & key_flags::NOT_KEY == 0);
        let variable_flags =
            self.key_specs.iter().any(|s| s.flags & key_flags::VARIABLE_FLAGS != 0);
        if usable_spec && !variable_flags {
            if let Some(keys) = self.keys_from_specs(args) {
                return keys;
            }
        }
        match self.get_keys {
            Some(proc) => native_keys(proc, args),
            None => Vec::new(),
        }
    }

    /// Redis's `getKeysUsingKeySpecs`; `None` when a spec is invalid or incomplete for these
    /// arguments (the caller then falls back to the native procedure).
    fn keys_from_specs(&self, args: &[impl AsRef<[u8]>]) -> Option<Vec<KeyRef>> {
        // Redis computes in C ints; i64 keeps every intermediate exact.
        let argc = args.len() as i64;
        let mut keys = Vec::new();
        for spec in self.key_specs {
            if spec.flags & key_flags::NOT_KEY != 0 {
                continue;
            }
            let mut first = match spec.begin_search {
                BeginSearch::Index(i) => i as i64,
                BeginSearch::Keyword { keyword, start_from } => {
                    match find_keyword(args, keyword, start_from as i64) {
                        Some(at) => at + 1,
                        None => continue,
                    }
                }
                BeginSearch::Unknown => return None,
            };
            let (last, step) = match spec.find_keys {
                FindKeys::Range { last_key, key_step, limit } => {
                    let (last_key, limit) = (last_key as i64, limit as i64);
                    let last = if last_key >= 0 {
                        first + last_key
                    } else if limit == 0 {
                        argc + last_key
                    } else {
                        first + ((argc - first) / limit + last_key)
                    };
                    (last, key_step as i64)
                }
                FindKeys::Keynum { keynum_idx, first_key, key_step } => {
                    let at = first + keynum_idx as i64;
                    if at < 0 || at >= argc {
                        return None;
                    }
                    let n = crate::number::parse_i64(args[at as usize].as_ref())?;
                    if n < 0 {
                        return None;
                    }
                    first += first_key as i64;
                    // Redis narrows the count to a C int.
                    (first + (n as i32) as i64 - 1, key_step as i64)
                }
                FindKeys::Unknown => return None,
            };
            if last >= argc || last < first || first >= argc || step <= 0 {
                return None;
            }
            let mut i = first;
            while i <= last {
                keys.push(KeyRef { pos: i as usize, flags: spec.flags });
                i += step;
            }
            if spec.flags & key_flags::INCOMPLETE != 0 {
                return None;
            }
        }
        Some(keys)
    }
}

/// The index of `keyword` searched from `start_from` (forwards up to the second-to-last
/// argument; negative: backwards from the end down to index 2), as Redis's keyword search.
fn find_keyword(args: &[impl AsRef<[u8]>], keyword: &str, start_from: i64) -> Option<i64> {
    let argc = args.len() as i64;
    let (start, end) = if start_from > 0 { (start_from, argc - 1) } else { (argc + start_from, 1) };
    let mut i = start;
    while i != end {
        if i >= argc || i < 1 {
            break;
        }
        if args[i as usize].as_ref().eq_ignore_ascii_case(keyword.as_bytes()) {
            return Some(i);
        }
        i += if start <= end { 1 } else { -1 };
    }
    None
}

fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// C's `atoi` (what Redis's native procedures use for `numkeys`): leading spaces, a sign,
/// digits up to the first non-digit; `strtol`'s clamping, then narrowed to an int.
fn atoi(s: &[u8]) -> i32 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    while let Some(d) = s.get(i).filter(|c| c.is_ascii_digit()) {
        v = v.saturating_mul(10).saturating_add((d - b'0') as i64);
        i += 1;
    }
    (if neg { v.saturating_neg() } else { v }) as i32
}

/// Redis's native `getkeys_proc` functions (db.c).
fn native_keys(proc: GetKeys, args: &[impl AsRef<[u8]>]) -> Vec<KeyRef> {
    use key_flags::*;
    let argc = args.len();
    let key = |pos: usize, flags: u32| KeyRef { pos, flags };
    match proc {
        GetKeys::Generic { store, count, first } => {
            let (store, count, first) = (store as usize, count as usize, first as usize);
            let Some(n) = args.get(count).map(|a| atoi(a.as_ref())) else {
                return Vec::new();
            };
            // Redis returns no key when the command is going to fail with a syntax error.
            if n < 1 || n as i64 > (argc as i64 - first as i64) {
                return Vec::new();
            }
            let mut keys: Vec<KeyRef> = (0..n as usize).map(|i| key(first + i, 0)).collect();
            if store != 0 {
                keys.push(key(store, 0));
            }
            keys
        }
        GetKeys::SortRo => vec![key(1, RO | ACCESS)],
        GetKeys::Sort => {
            let mut keys = vec![key(1, RO | ACCESS)];
            let mut store = None;
            // Options skip their arguments so that e.g. `BY store` isn't taken for STORE; the
            // last STORE wins, as in SORT itself.
            let mut i = 2;
            while i < argc {
                let a = args[i].as_ref();
                if is(a, "limit") {
                    i += 2;
                } else if is(a, "get") || is(a, "by") {
                    i += 1;
                } else if is(a, "store") && i + 1 < argc {
                    store = Some(i + 1);
                }
                i += 1;
            }
            if let Some(pos) = store {
                keys.push(key(pos, OW | UPDATE));
            }
            keys
        }
        GetKeys::Migrate => {
            let (mut first, mut num) = (3, 1);
            if argc > 6 {
                let mut i = 6;
                while i < argc {
                    let a = args[i].as_ref();
                    if is(a, "keys") {
                        if args[3].as_ref().is_empty() {
                            first = i + 1;
                            num = argc - first;
                        } else {
                            // A key and KEYS together is a syntax error MIGRATE reports.
                            num = 0;
                        }
                        break;
                    }
                    if is(a, "auth") {
                        i += 1;
                    } else if is(a, "auth2") {
                        i += 2;
                    }
                    i += 1;
                }
            }
            (0..num).map(|i| key(first + i, RW | ACCESS | DELETE)).collect()
        }
        GetKeys::GeoRadius => {
            let mut stored = None;
            let mut i = 5;
            while i < argc {
                let a = args[i].as_ref();
                if (is(a, "store") || is(a, "storedist")) && i + 1 < argc {
                    stored = Some(i + 1);
                    i += 1;
                }
                i += 1;
            }
            let mut keys = vec![key(1, 0)];
            keys.extend(stored.map(|p| key(p, 0)));
            keys
        }
        GetKeys::XRead => {
            let mut streams = None;
            let mut i = 1;
            while i < argc {
                let a = args[i].as_ref();
                if is(a, "block") || is(a, "count") {
                    i += 1;
                } else if is(a, "group") {
                    i += 2;
                } else if is(a, "noack") {
                } else if is(a, "streams") {
                    streams = Some(i);
                    break;
                } else {
                    break;
                }
                i += 1;
            }
            let Some(at) = streams else { return Vec::new() };
            let n = argc - at - 1;
            if n == 0 || n & 1 == 1 {
                return Vec::new();
            }
            (at + 1..at + 1 + n / 2).map(|p| key(p, 0)).collect()
        }
        GetKeys::Set => {
            let get = args.iter().skip(3).any(|a| is(a.as_ref(), "get"));
            vec![key(1, if get { RW | ACCESS | UPDATE } else { OW | UPDATE })]
        }
        GetKeys::Bitfield => {
            let mut readonly = true;
            let mut i = 2;
            while i < argc {
                let remaining = argc - i - 1;
                let a = args[i].as_ref();
                if is(a, "get") && remaining >= 2 {
                    i += 2;
                } else if (is(a, "set") || is(a, "incrby")) && remaining >= 3 {
                    readonly = false;
                    break;
                } else if is(a, "overflow") && remaining >= 1 {
                    i += 1;
                } else {
                    // A syntax error: safer to assume a write.
                    readonly = false;
                    break;
                }
                i += 1;
            }
            vec![key(1, if readonly { RO | ACCESS } else { RW | ACCESS | UPDATE })]
        }
    }
}

#[cfg(test)]
#[path = "getkeys_cases.rs"]
mod getkeys_cases;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::resolve;

    /// Resolves and extracts like COMMAND GETKEYSANDFLAGS; `Err` carries the error text.
    fn getkeys(args: &[&str]) -> Result<Vec<(usize, u32)>, String> {
        let spec = resolve(args).ok_or("Invalid command specified")?;
        spec.keys_with_flags(args)
            .map(|keys| keys.iter().map(|k| (k.pos, k.flags)).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn matches_redis_getkeysandflags() {
        let mut failures = Vec::new();
        for (args, expected) in getkeys_cases::CASES {
            let got = getkeys(args);
            let want = expected.map(|ks| ks.to_vec()).map_err(|e| e.to_string());
            if got != want {
                failures.push(format!("{args:?}: got {got:?}, redis {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    }

    #[test]
    fn atoi_is_c_atoi() {
        assert_eq!(atoi(b"12abc"), 12);
        assert_eq!(atoi(b"  -3"), -3);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"99999999999"), 99999999999i64 as i32);
    }

    #[test]
    fn huge_numkeys_does_not_allocate() {
        let eval = crate::command::lookup(b"eval").unwrap();
        let args = ["eval", "s", "9223372036854775807", "k"];
        assert_eq!(eval.key_positions(&args), Ok(vec![]));
    }
}
