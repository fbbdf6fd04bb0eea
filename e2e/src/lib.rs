//! End-to-end tests only: see `tests/`. They need Azurite (`scripts/azurite.sh start`) and
//! fail, never skip, without it.
