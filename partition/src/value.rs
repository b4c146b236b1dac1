//! The values stored under keys. Each data type is one variant; the string type keeps Redis's
//! three encodings visible (`int`, `embstr`, `raw`) because OBJECT ENCODING reports them and
//! clients and tests look at them.

/// Strings up to this length created by SET report the `embstr` encoding, as in Redis.
pub const EMBSTR_MAX: usize = 44;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A string that is the canonical decimal text of an `i64` (Redis's `int` encoding).
    Int(i64),
    /// Any other string. `raw` is true once modified in place (APPEND, SETRANGE, SETBIT), which
    /// Redis reports as the `raw` encoding even for short strings.
    Str { data: Vec<u8>, raw: bool },
}

impl Value {
    /// A string value, stored as an integer when its text is an integer's canonical form.
    pub fn string(data: &[u8]) -> Value {
        if data.len() <= 20 {
            if let Some(i) = protocol::number::parse_i64(data) {
                return Value::Int(i);
            }
        }
        Value::Str { data: data.to_vec(), raw: false }
    }

    /// The Redis type name (`TYPE`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str { .. } => "string",
        }
    }

    /// The encoding name (`OBJECT ENCODING`).
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str { data, raw } => {
                if !raw && data.len() <= EMBSTR_MAX {
                    "embstr"
                } else {
                    "raw"
                }
            }
        }
    }

    /// Approximate heap bytes held by the value, for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Str { data, .. } => data.capacity(),
        }
    }
}
