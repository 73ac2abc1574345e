//! A hostile agent: a real agent certificate, any message it likes.
