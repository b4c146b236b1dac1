//! The AOF manifest: which files make up the append-only file, as Redis 7's multi-part AOF.
//!
//! The AOF is a folder (`appenddirname`) holding a **base** (a snapshot of the dataset at the
//! last rewrite), one or more **incremental** files (the commands written since, in order) and
//! the manifest that lists them:
//!
//! ```text
//! file appendonly.aof.3.base.snap seq 3 type b
//! file appendonly.aof.3.incr.aof seq 3 type i
//! file appendonly.aof.4.incr.aof seq 4 type i
//! ```
//!
//! A rewrite starts a new incremental file at the moment it takes its snapshot and lists it
//! at once, so a crash in the middle of a rewrite still loads the old base and every
//! incremental file; when the new base is complete, the manifest is replaced (written to a
//! temporary file, synced, renamed) by one that lists only the new base and the new
//! incremental file. The manifest is always replaced whole, never edited in place.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// One file of the AOF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub seq: u64,
}

/// The files that make up the AOF, in load order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<Part>,
    pub incrs: Vec<Part>,
}

/// The manifest's file name inside the AOF folder.
pub fn file_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

impl Manifest {
    /// Parses a manifest; the error says which line is wrong and why.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |why: &str| format!("line {}: {why}: '{line}'", n + 1);
            let words: Vec<&str> = line.split_ascii_whitespace().collect();
            let (mut name, mut seq, mut kind) = (None, None, None);
            for pair in words.chunks(2) {
                match pair {
                    ["file", v] => name = Some(v.to_string()),
                    ["seq", v] => seq = Some(v.parse::<u64>().map_err(|_| bad("bad seq"))?),
                    ["type", v] => kind = Some(*v),
                    // Unknown keys are skipped, as Redis does, for forward compatibility.
                    [_, _] => {}
                    _ => return Err(bad("odd number of words")),
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(bad("needs file, seq and type"));
            };
            if name.contains('/') || name.is_empty() {
                return Err(bad("file names may not contain '/'"));
            }
            let part = Part { name, seq };
            match kind {
                "b" if m.base.is_none() => m.base = Some(part),
                "b" => return Err(bad("more than one base file")),
                "i" => {
                    if m.incrs.last().is_some_and(|p| p.seq >= part.seq) {
                        return Err(bad("incremental files out of order"));
                    }
                    m.incrs.push(part)
                }
                // History files (`h`) are leftovers of an older rewrite: not loaded.
                "h" => {}
                _ => return Err(bad("unknown type")),
            }
        }
        Ok(m)
    }

    pub fn to_text(&self) -> String {
        let mut text = String::new();
        if let Some(b) = &self.base {
            text.push_str(&format!("file {} seq {} type b\n", b.name, b.seq));
        }
        for i in &self.incrs {
            text.push_str(&format!("file {} seq {} type i\n", i.name, i.seq));
        }
        text
    }

    /// The highest sequence number used by an incremental file.
    pub fn last_incr_seq(&self) -> u64 {
        self.incrs.last().map_or(0, |p| p.seq)
    }

    /// Replaces the manifest in `dir` atomically: a crash leaves the old one or the new one.
    pub fn store(&self, dir: &Path, prefix: &str) -> std::io::Result<()> {
        let tmp = dir.join(format!("temp-{}", file_name(prefix)));
        let mut f = File::create(&tmp)?;
        f.write_all(self.to_text().as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, dir.join(file_name(prefix)))?;
        sync_dir(dir)
    }
}

/// Makes a rename or a new file in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The name of base file `seq`.
pub fn base_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.base.snap")
}

/// The name of incremental file `seq`.
pub fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = Manifest {
            base: Some(Part { name: base_name("appendonly.aof", 3), seq: 3 }),
            incrs: vec![
                Part { name: incr_name("appendonly.aof", 3), seq: 3 },
                Part { name: incr_name("appendonly.aof", 4), seq: 4 },
            ],
        };
        assert_eq!(Manifest::parse(&m.to_text()).unwrap(), m);
        assert_eq!(m.last_incr_seq(), 4);
    }

    #[test]
    fn reads_what_redis_writes() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\n\
                    file appendonly.aof.1.incr.aof seq 1 type i\n\
                    file appendonly.aof.0.incr.aof seq 0 type h\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs.len(), 1);
    }

    #[test]
    fn rejects_what_it_cannot_trust() {
        for bad in [
            "file a seq x type i",
            "file a seq 1",
            "file a/b seq 1 type i",
            "file a seq 1 type b\nfile b seq 2 type b",
            "file a seq 2 type i\nfile b seq 1 type i",
            "file a seq 1 type z",
            "file a seq",
        ] {
            assert!(Manifest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn store_replaces_the_file() {
        let dir = std::env::temp_dir().join(format!("manifest-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let m = Manifest { base: None, incrs: vec![Part { name: "x.1.incr.aof".into(), seq: 1 }] };
        m.store(&dir, "x").unwrap();
        let text = std::fs::read_to_string(dir.join("x.manifest")).unwrap();
        assert_eq!(Manifest::parse(&text).unwrap(), m);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
