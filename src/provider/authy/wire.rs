//! Authy's JSON shapes (placeholder).
