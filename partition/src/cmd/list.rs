//! The list command family. SKELETON: filled in by the family's implementation.

use super::Handler;

pub const COMMANDS: &[(&str, Handler)] = &[];
