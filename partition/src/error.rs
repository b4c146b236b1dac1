//! Errors of the partition server: start-up and I/O failures ([`Error`]), and the error replies
//! of commands ([`CmdError`]), whose `Display` text is exactly what Redis sends after the `-`.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The data on disk cannot be loaded (names the file and, where it applies, the offset).
    #[error("loading data: {0}")]
    Load(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A command's error reply. Handlers return it before writing any reply of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    WrongType,
    Syntax,
    NotInteger,
    NotFloat,
    Overflow,
    NoSuchKey,
    /// `ERR wrong number of arguments for '<name>' command`
    WrongArity(String),
    /// Any other error, the whole text including its code (`ERR ...`, `NOAUTH ...`).
    Other(String),
}

impl CmdError {
    /// An `ERR`-coded error with the given message.
    pub fn err(msg: impl fmt::Display) -> CmdError {
        CmdError::Other(format!("ERR {msg}"))
    }
}

impl fmt::Display for CmdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CmdError::Syntax => f.write_str("ERR syntax error"),
            CmdError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CmdError::NotFloat => f.write_str("ERR value is not a valid float"),
            CmdError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CmdError::NoSuchKey => f.write_str("ERR no such key"),
            CmdError::WrongArity(name) => {
                write!(f, "ERR wrong number of arguments for '{name}' command")
            }
            CmdError::Other(text) => f.write_str(text),
        }
    }
}

pub type CmdResult = std::result::Result<(), CmdError>;
