//! Pieces of the WASI commands that tests generate with wasm-encoder: the two preview1
//! imports they use, and memory operands.

use wasm_encoder::{EntityType, ImportSection, MemArg, MemArgTarget, TypeSection, ValType};

/// Function index of the `fd_write` import.
pub const FD_WRITE: u32 = 0;
/// Function index of the `proc_exit` import.
pub const PROC_EXIT: u32 = 1;
/// Type index of `[] -> []`, for the module's own functions.
pub const NULLARY: u32 = 2;

/// Types 0–2 (`fd_write`'s, `proc_exit`'s, [`NULLARY`]) and the imports of `fd_write` and
/// `proc_exit` as functions [`FD_WRITE`] and [`PROC_EXIT`].
pub fn preview1_imports() -> (TypeSection, ImportSection) {
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32; 4], [ValType::I32]);
    types.ty().function([ValType::I32], []);
    types.ty().function([], []);
    let mut imports = ImportSection::new();
    imports.import(
        "wasi_snapshot_preview1",
        "fd_write",
        EntityType::Function(0),
    );
    imports.import(
        "wasi_snapshot_preview1",
        "proc_exit",
        EntityType::Function(1),
    );
    (types, imports)
}

/// The operand of a load or store of `size` bytes at `offset` in memory 0, naturally aligned.
pub fn mem_arg(offset: u32, size: u32) -> MemArg {
    MemArg {
        offset: u64::from(offset),
        align: size.trailing_zeros(),
        target: MemArgTarget::Memory(0),
        ordering: None,
    }
}
