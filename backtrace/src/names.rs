//! The module's `name` custom section: its own name and its functions' names.
//!
//! Read at trap time only, from the section wasmi keeps. A malformed section yields what was
//! read before the fault: names are a courtesy, never a reason to fail.

use wasmparser::{BinaryReader, Name, NameSectionReader};

/// The name of the custom section.
pub const SECTION: &str = "name";

/// Names from a `name` section's payload.
#[derive(Clone, Copy, Debug, Default)]
pub struct Names<'a> {
    payload: &'a [u8],
}

impl<'a> Names<'a> {
    /// Names from the payload of the module's `name` section (empty: no names).
    pub fn new(payload: &'a [u8]) -> Self {
        Names { payload }
    }

    fn subsections(&self) -> impl Iterator<Item = Name<'a>> + 'a {
        NameSectionReader::new(BinaryReader::new(self.payload, 0)).map_while(Result::ok)
    }

    /// The module's name, if the section has one.
    pub fn module(&self) -> Option<&'a str> {
        self.subsections().find_map(|name| match name {
            Name::Module { name, .. } => Some(name),
            _ => None,
        })
    }

    /// The name of function `index`, if the section has one.
    pub fn function(&self, index: u32) -> Option<&'a str> {
        self.subsections().find_map(|name| match name {
            Name::Function(map) => map
                .into_iter()
                .map_while(Result::ok)
                .find(|naming| naming.index == index)
                .map(|naming| naming.name),
            _ => None,
        })
    }
}
