//! Background children: a snapshot is written by a `fork()`ed copy of the server, as Redis
//! does, so that the copy sees the dataset frozen at one instant while the server goes on
//! serving — the kernel shares the memory copy-on-write. The only pause clients see is the
//! `fork()` itself (copying page tables: about a millisecond per few hundred MB).
//!
//! What runs in the child is restricted: the process has one thread there (the one that
//! forked), so any lock another thread held at the fork stays locked forever. The work done
//! in the child therefore takes no lock and does not log; it walks the state the forking
//! thread held locked, writes a file, and leaves with `_exit` (no destructors, no flushing of
//! the parent's buffers). jemalloc is fork-safe (it takes its locks around `fork()`).

use std::io;

/// Runs `work` in a forked child and returns the child's pid at once. The child exits with
/// status 0 when `work` returns true, 1 otherwise (also when it panics).
///
/// The caller must hold whatever `work` reads locked across this call (the command lock), so
/// that the child sees it consistent, and `work` must follow the rules in the module
/// documentation.
pub fn spawn(work: impl FnOnce() -> bool) -> io::Result<i32> {
    // SAFETY: fork has no memory-safety preconditions of its own; what the child may do
    // afterwards is what the module documentation restricts (no locks, no logging, `_exit`).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: restoring default dispositions is async-signal-safe. The runtime's signal
        // handlers would otherwise report a Ctrl-C sent to the whole process group to the
        // parent twice (they write to a pipe the child shares).
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
        }
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or(false);
        // SAFETY: `_exit` ends the child without running the parent's destructors or
        // atexit handlers, which belong to the parent.
        unsafe { libc::_exit(if ok { 0 } else { 1 }) }
    }
    Ok(pid)
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    Failed(i32),
    /// Killed by this signal (a cancelled save is killed with SIGUSR1, as in Redis).
    Signal(i32),
}

/// Blocks until child `pid` ends.
pub fn wait(pid: i32) -> io::Result<Exit> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status through the pointer it is given.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(if libc::WIFEXITED(status) {
        match libc::WEXITSTATUS(status) {
            0 => Exit::Success,
            code => Exit::Failed(code),
        }
    } else if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        Exit::Failed(-1)
    })
}

/// Stops child `pid` (a save being cancelled: shutdown, FLUSHALL, appendonly no).
pub fn kill(pid: i32) {
    // SAFETY: kill only sends a signal; a pid that already ended is reported as an error.
    unsafe {
        libc::kill(pid, libc::SIGUSR1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_child_sees_the_parent_memory_and_reports_its_result() {
        let path = std::env::temp_dir().join(format!("fork-test-{}", std::process::id()));
        let data = vec![7u8; 100_000];
        let p = path.clone();
        let pid = spawn(move || std::fs::write(&p, &data).is_ok()).unwrap();
        assert_eq!(wait(pid).unwrap(), Exit::Success);
        assert_eq!(std::fs::read(&path).unwrap(), vec![7u8; 100_000]);
        std::fs::remove_file(&path).unwrap();
        let pid = spawn(|| false).unwrap();
        assert_eq!(wait(pid).unwrap(), Exit::Failed(1));
    }

    #[test]
    fn a_killed_child_is_reported_as_such() {
        let pid = spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(30));
            true
        })
        .unwrap();
        kill(pid);
        assert_eq!(wait(pid).unwrap(), Exit::Signal(libc::SIGUSR1));
    }
}
