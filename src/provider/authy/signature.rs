//! OneTouch callback signatures (placeholder).
