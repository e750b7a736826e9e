//! Where a call goes, and why: the three tiers of routing.

use std::fmt;

/// The tier that decided a route, in the order they are tried: the three tiers of routing, and
/// the move of the chat that the chosen source recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// The call named its source (reads only).
    Explicit = 0,
    /// The chat is in the configuration's chat mapping.
    ChatMapping = 1,
    /// Neither: the default source.
    Default = 2,
    /// The chat moved: the source the first three tiers chose recorded that the chat left it,
    /// and for where (see [`crate::Router::route`]).
    Moved = 3,
}

impl Tier {
    /// A short lowercase name: `explicit`, `chat-mapping`, `default` or `moved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Explicit => "explicit",
            Tier::ChatMapping => "chat-mapping",
            Tier::Default => "default",
            Tier::Moved => "moved",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The source a call resolves to, and the tier that chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    pub(crate) source: &'a str,
    pub(crate) tier: Tier,
    pub(crate) readonly: bool,
}

impl Route<'_> {
    /// The source's name.
    pub fn source(&self) -> &str {
        self.source
    }

    /// The tier that chose the source.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// True when the source is read-only, so that a write routed here would be refused.
    pub fn is_readonly(&self) -> bool {
        self.readonly
    }
}

impl fmt::Display for Route<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.source, self.tier)
    }
}

/// Whether a call reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// A read, on a read-only connection.
    Read,
    /// A write, in a `BEGIN IMMEDIATE` transaction on the source's writer.
    Write,
}

impl Access {
    /// `read` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}
