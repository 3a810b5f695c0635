//! Placeholder until the VMM lands.
pub mod image_config;
