//! Integration tests of multisource live in `tests/`; this library is empty on purpose.
