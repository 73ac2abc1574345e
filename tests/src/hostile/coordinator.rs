//! A hostile coordinator: the real server certificate, any command it likes.
