//! `proxy`: see DESIGN.md; filled by its issue.
