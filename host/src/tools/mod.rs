//! Offline tools: `awl decode` (what a PXE server reads in each datagram of
//! a capture) and the capture reader the tests share.

pub mod capture;
pub mod decode;
