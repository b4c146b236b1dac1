//! `admin-api`: see DESIGN.md; filled by its issue.
