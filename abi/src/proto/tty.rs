//! TTY, the console driver: it speaks the character-device protocol
//! ([`super::dev`]) with VFS; what it keeps across its restarts is
//! [`backup`].

pub mod backup;
