//! Small guest programs (see `src/bin/`).
#![no_std]
