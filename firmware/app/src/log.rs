//! Logging without a board: the app formats lines with `core::fmt` and a
//! board sink writes them (UART text on mps2-an386, defmt on the NUCLEO).

use core::fmt;

/// Where log lines go. One call per line, without the newline.
pub trait Log {
    /// Writes one line.
    fn line(&mut self, args: fmt::Arguments<'_>);
}

impl<T: Log + ?Sized> Log for &mut T {
    fn line(&mut self, args: fmt::Arguments<'_>) {
        (**self).line(args);
    }
}

/// A sink that drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLog;

impl Log for NoLog {
    fn line(&mut self, _: fmt::Arguments<'_>) {}
}

/// A MAC address as `aa:bb:cc:dd:ee:ff` (the core's, as the host prints
/// it).
pub use awl_core::wire::Mac;

/// Logs one line: `log!(sink, "format", args..)`.
#[macro_export]
macro_rules! log {
    ($sink:expr, $($arg:tt)*) => {
        {
            #[allow(unused_imports)]
            use $crate::log::Log as _;
            $sink.line(format_args!($($arg)*))
        }
    };
}
