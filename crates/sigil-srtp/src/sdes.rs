//! SDES: the `a=crypto` attribute of RFC 4568 (key parameters and session parameters).
