//! `config-service`: see DESIGN.md; filled by its issue.
