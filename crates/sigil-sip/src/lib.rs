//! SIP messages: model, total parser, serializer, stream framing, digest authentication (SPEC S1, S5).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
