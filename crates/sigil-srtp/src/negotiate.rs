//! The sans-IO SDP offer/answer negotiator implementing the SDP SRTP Offer policy (SPEC M3).
