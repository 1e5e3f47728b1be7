//! The shadow call stack, spliced into a module's code.
//!
//! The rewritten module has one more linear memory (the frames: one `u32` slot per active
//! call) and one more mutable `i32` global (the depth, in bytes: the address of the next free
//! slot), both appended after the module's own so that no index the program uses moves, and
//! exported as [`FRAMES_EXPORT`] and [`DEPTH_EXPORT`]. Each defined function gets one more
//! local, `s`, and:
//!
//! - on entry, `s = depth; frames[s] = BODY; depth = s + 4`, where `BODY` is the offset of its
//!   body in the original module;
//! - before each `call`/`call_indirect`, `frames[s] = CALL`, the call instruction's offset;
//! - before `return`, `return_call*` and the body's final `end`, `depth = s`.
//!
//! A branch to the function's own label also leaves it: a function that has one is wrapped
//! in a `block` of its result type, and the pop follows that block. Nothing else changes:
//! the bytes of every other section and instruction are copied as they are (custom sections
//! but `name` are left out: they mean nothing to the program), so function,
//! type, table, memory and global indices, exports, the start function and data segments
//! stay what the program was built with. A trap leaves the stack as it was at the trap, which
//! [`crate::report`] reads back.
//!
//! In wasmi's register code this costs five instructions on entry, one at each exit and one
//! per call site.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use wasmparser::{
    BinaryReader, DataKind, DataSectionReader, ExportSectionReader, ExternalKind, FunctionBody,
    FunctionSectionReader, GlobalSectionReader, ImportSectionReader, MemorySectionReader, Operator,
    RefType, TypeRef, TypeSectionReader, ValType,
};

/// The export name of the frames memory.
pub const FRAMES_EXPORT: &str = "cella:backtrace-frames";
/// The export name of the depth global (bytes of the frames memory in use).
pub const DEPTH_EXPORT: &str = "cella:backtrace-depth";
/// Bytes of one frame slot.
pub const SLOT_BYTES: u32 = 4;
/// Bytes of a wasm page.
const PAGE_BYTES: u32 = 64 * 1024;

/// Section ids (WebAssembly core spec, 5.5.2).
mod id {
    pub const CUSTOM: u8 = 0;
    pub const TYPE: u8 = 1;
    pub const IMPORT: u8 = 2;
    pub const FUNCTION: u8 = 3;
    pub const TABLE: u8 = 4;
    pub const MEMORY: u8 = 5;
    pub const GLOBAL: u8 = 6;
    pub const EXPORT: u8 = 7;
    pub const START: u8 = 8;
    pub const ELEMENT: u8 = 9;
    pub const CODE: u8 = 10;
    pub const DATA: u8 = 11;
    pub const DATA_COUNT: u8 = 12;
    pub const TAG: u8 = 13;
}

/// The opcodes the rewriter writes.
mod op {
    pub const BLOCK: u8 = 0x02;
    pub const END: u8 = 0x0b;
    pub const LOCAL_GET: u8 = 0x20;
    pub const LOCAL_TEE: u8 = 0x22;
    pub const GLOBAL_GET: u8 = 0x23;
    pub const GLOBAL_SET: u8 = 0x24;
    pub const I32_STORE: u8 = 0x36;
    pub const I32_CONST: u8 = 0x41;
    pub const I32_ADD: u8 = 0x6a;
    pub const EMPTY_BLOCK: u8 = 0x40;
    pub const FUNC_TYPE: u8 = 0x60;
    pub const I32: u8 = 0x7f;
    /// `i32.store`'s alignment exponent (4 bytes) and the memory-index flag of multi-memory.
    pub const ALIGN_4: u8 = 2;
    pub const MEMORY_INDEX_FLAG: u8 = 0x40;
    pub const LIMITS_MIN_MAX: u8 = 0x01;
    pub const MUTABLE: u8 = 0x01;
    pub const EXPORT_MEMORY: u8 = 0x02;
    pub const EXPORT_GLOBAL: u8 = 0x03;
}

/// A module with the shadow stack, and where its functions lie in the original.
#[derive(Clone, Debug)]
pub struct Instrumented {
    /// The rewritten module.
    pub module: Vec<u8>,
    /// Maps the offsets the frames hold to functions.
    pub code: CodeMap,
}

/// Where each defined function's body lies in the original module: what turns a frame slot
/// (a body's start or a call's offset) into a function index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodeMap {
    /// Functions imported: defined function `i` has index `imported + i`.
    imported: u32,
    /// Each defined function's body, `start..end` in the original module, in order.
    bodies: Vec<(u32, u32)>,
}

impl CodeMap {
    /// The function whose body holds `offset`, and whether `offset` is the body's start (the
    /// function was entered and has not called anything since).
    pub fn locate(&self, offset: u32) -> Option<(u32, bool)> {
        let after = self.bodies.partition_point(|&(start, _)| start <= offset);
        let index = after.checked_sub(1)?;
        let &(start, end) = self.bodies.get(index)?;
        if offset >= end {
            return None;
        }
        let function = self.imported.checked_add(u32::try_from(index).ok()?)?;
        Some((function, offset == start))
    }
}

/// Why a module was left as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotInstrumented {
    /// The bytes do not parse as a core module.
    Malformed(String),
    /// The module uses something the rewriter does not handle (exception handling, GC
    /// branches, non-function types, a reserved export name).
    Unsupported(&'static str),
    /// The code uses an index that only the appended memory or global would make valid: the
    /// original is invalid and must stay so.
    InvalidIndex,
}

impl fmt::Display for NotInstrumented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotInstrumented::Malformed(why) => write!(f, "malformed module: {why}"),
            NotInstrumented::Unsupported(what) => write!(f, "unsupported: {what}"),
            NotInstrumented::InvalidIndex => {
                f.write_str("a memory or global index is out of range")
            }
        }
    }
}

impl From<wasmparser::BinaryReaderError> for NotInstrumented {
    fn from(error: wasmparser::BinaryReaderError) -> Self {
        NotInstrumented::Malformed(error.message().to_string())
    }
}

type Result<T> = core::result::Result<T, NotInstrumented>;

fn malformed(what: &str) -> NotInstrumented {
    NotInstrumented::Malformed(what.to_string())
}

/// One top-level section: its id, and its payload with the payload's offset in the module.
struct Section<'a> {
    id: u8,
    whole: &'a [u8],
    payload: &'a [u8],
    offset: usize,
}

impl<'a> Section<'a> {
    fn reader(&self) -> BinaryReader<'a> {
        BinaryReader::new(self.payload, self.offset)
    }
}

/// The module's sections, in order.
fn sections(bytes: &[u8]) -> Result<Vec<Section<'_>>> {
    const HEADER: [u8; 8] = *b"\0asm\x01\0\0\0";
    if bytes.get(..HEADER.len()) != Some(&HEADER[..]) {
        return Err(malformed("not a WebAssembly core module (version 1)"));
    }
    let mut sections = Vec::new();
    let mut reader = BinaryReader::new(bytes.get(HEADER.len()..).unwrap_or_default(), HEADER.len());
    while !reader.eof() {
        let start = reader.original_position();
        let id = reader.read_u8()?;
        let size = reader.read_var_u32()? as usize;
        let offset = reader.original_position();
        let payload = reader.read_bytes(size)?;
        let whole = bytes
            .get(start..offset.saturating_add(size))
            .ok_or_else(|| malformed("section past the end"))?;
        sections.push(Section {
            id,
            whole,
            payload,
            offset,
        });
    }
    Ok(sections)
}

/// Where a section goes in a module (custom sections go anywhere).
fn rank(id: u8) -> u8 {
    match id {
        id::TYPE => 1,
        id::IMPORT => 2,
        id::FUNCTION => 3,
        id::TABLE => 4,
        id::MEMORY => 5,
        id::TAG => 6,
        id::GLOBAL => 7,
        id::EXPORT => 8,
        id::START => 9,
        id::ELEMENT => 10,
        id::DATA_COUNT => 11,
        id::CODE => 12,
        id::DATA => 13,
        _ => 0,
    }
}

/// A function type: its parameter count and its results.
#[derive(Clone)]
struct Signature {
    params: u32,
    results: Vec<ValType>,
}

/// What the rewriter learns about the module before touching its code.
#[derive(Default)]
struct Module {
    /// Function types by type index; `None` for other composite types.
    types: Vec<Option<Signature>>,
    imported_functions: u32,
    memories: u32,
    globals: u32,
    /// Type index of each defined function.
    functions: Vec<u32>,
}

/// Rewrites `bytes` with a shadow call stack of room for `max_frames` nested calls (the
/// interpreter's recursion limit: a deeper call traps before it runs).
pub fn instrument(bytes: &[u8], max_frames: u32) -> Result<Instrumented> {
    let sections = sections(bytes)?;
    let mut module = Module::default();
    for section in &sections {
        read_section(section, &mut module)?;
    }
    for section in &sections {
        check_indices(section, &module)?;
    }
    let frames_memory = module.memories;
    let depth_global = module.globals;
    let pages = max_frames
        .checked_add(1)
        .and_then(|frames| frames.checked_mul(SLOT_BYTES))
        .map(|bytes| bytes.div_ceil(PAGE_BYTES))
        .ok_or(NotInstrumented::Unsupported("too many frames"))?;

    let mut code = CodeMap {
        imported: module.imported_functions,
        bodies: Vec::new(),
    };
    let mut new_types: Vec<Vec<ValType>> = Vec::new();
    let mut code_section = None;
    for section in sections.iter().filter(|s| s.id == id::CODE) {
        let mut rewriter = Rewriter {
            module: &module,
            bytes,
            frames_memory,
            depth_global,
            new_types: &mut new_types,
            code: &mut code,
        };
        code_section = Some(rewriter.code_section(section)?);
    }

    let mut out = Vec::with_capacity(bytes.len().saturating_add(bytes.len() / 4));
    out.extend_from_slice(bytes.get(..8).unwrap_or_default());
    let mut pending = [id::MEMORY, id::GLOBAL, id::EXPORT];
    let additions = Additions {
        pages,
        frames_memory,
        depth_global,
    };
    for section in &sections {
        if section.id != id::CUSTOM {
            for missing in pending.iter_mut().filter(|m| **m != 0) {
                if rank(*missing) < rank(section.id) {
                    push_section(&mut out, *missing, &additions.section(*missing, None)?);
                    *missing = 0;
                }
            }
        }
        match section.id {
            id::MEMORY | id::GLOBAL | id::EXPORT => {
                if let Some(missing) = pending.iter_mut().find(|m| **m == section.id) {
                    *missing = 0;
                }
                push_section(
                    &mut out,
                    section.id,
                    &additions.section(section.id, Some(section))?,
                );
            }
            id::TYPE if !new_types.is_empty() => {
                push_section(&mut out, id::TYPE, &with_types(section, &new_types)?);
            }
            id::CODE => match &code_section {
                Some(payload) => push_section(&mut out, id::CODE, payload),
                None => out.extend_from_slice(section.whole),
            },
            // Custom sections mean nothing to the program, and the interpreter keeps a copy
            // of each (debug information can be megabytes): only the names are kept.
            id::CUSTOM if !is_name_section(section) => {}
            _ => out.extend_from_slice(section.whole),
        }
    }
    for missing in pending.iter().filter(|m| **m != 0) {
        push_section(&mut out, *missing, &additions.section(*missing, None)?);
    }
    if !new_types.is_empty() && !sections.iter().any(|s| s.id == id::TYPE) {
        return Err(malformed("function types without a type section"));
    }
    Ok(Instrumented { module: out, code })
}

fn is_name_section(section: &Section<'_>) -> bool {
    wasmparser::CustomSectionReader::new(section.reader())
        .is_ok_and(|custom| custom.name() == crate::names::SECTION)
}

/// Reads what the rewriter needs from one section and checks the indices it holds.
fn read_section(section: &Section<'_>, module: &mut Module) -> Result<()> {
    match section.id {
        id::TYPE => {
            for group in TypeSectionReader::new(section.reader())? {
                for ty in group?.into_types() {
                    module.types.push(match ty.composite_type.inner {
                        wasmparser::CompositeInnerType::Func(func) => Some(Signature {
                            params: u32::try_from(func.params().len())
                                .map_err(|_| malformed("too many parameters"))?,
                            results: func.results().to_vec(),
                        }),
                        _ => None,
                    });
                }
            }
        }
        id::IMPORT => {
            for import in ImportSectionReader::new(section.reader())? {
                let count = match import?.ty {
                    TypeRef::Func(_) => &mut module.imported_functions,
                    TypeRef::Memory(_) => &mut module.memories,
                    TypeRef::Global(_) => &mut module.globals,
                    _ => continue,
                };
                *count = count
                    .checked_add(1)
                    .ok_or_else(|| malformed("too many imports"))?;
            }
        }
        id::FUNCTION => {
            for ty in FunctionSectionReader::new(section.reader())? {
                module.functions.push(ty?);
            }
        }
        id::MEMORY => {
            let count = MemorySectionReader::new(section.reader())?.count();
            module.memories = module.memories.saturating_add(count);
        }
        id::GLOBAL => {
            let count = GlobalSectionReader::new(section.reader())?.count();
            module.globals = module.globals.saturating_add(count);
        }
        _ => {}
    }
    Ok(())
}

/// Checks the sections that name memories and globals once every count is known.
fn check_indices(section: &Section<'_>, module: &Module) -> Result<()> {
    match section.id {
        id::EXPORT => {
            for export in ExportSectionReader::new(section.reader())? {
                let export = export?;
                if export.name == FRAMES_EXPORT || export.name == DEPTH_EXPORT {
                    return Err(NotInstrumented::Unsupported(
                        "an export has a reserved name",
                    ));
                }
                let bound = match export.kind {
                    ExternalKind::Memory => module.memories,
                    ExternalKind::Global => module.globals,
                    _ => continue,
                };
                if export.index >= bound {
                    return Err(NotInstrumented::InvalidIndex);
                }
            }
        }
        id::DATA => {
            for data in DataSectionReader::new(section.reader())? {
                if let DataKind::Active { memory_index, .. } = data?.kind
                    && memory_index >= module.memories
                {
                    return Err(NotInstrumented::InvalidIndex);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The memory, global and exports the rewriter appends.
struct Additions {
    pages: u32,
    frames_memory: u32,
    depth_global: u32,
}

impl Additions {
    /// The payload of section `id`: the original's entries (if any) and the appended ones.
    fn section(&self, id: u8, original: Option<&Section<'_>>) -> Result<Vec<u8>> {
        let (count, entries) = match original {
            Some(section) => {
                let mut reader = section.reader();
                let count = reader.read_var_u32()?;
                let at = reader.original_position().saturating_sub(section.offset);
                (count, section.payload.get(at..).unwrap_or_default())
            }
            None => (0, &[][..]),
        };
        let added = if id == id::EXPORT { 2 } else { 1 };
        let mut out = Vec::with_capacity(entries.len().saturating_add(64));
        leb_u32(
            &mut out,
            count
                .checked_add(added)
                .ok_or_else(|| malformed("too many entries"))?,
        );
        out.extend_from_slice(entries);
        match id {
            id::MEMORY => {
                out.push(op::LIMITS_MIN_MAX);
                leb_u32(&mut out, self.pages);
                leb_u32(&mut out, self.pages);
            }
            id::GLOBAL => {
                out.extend_from_slice(&[op::I32, op::MUTABLE, op::I32_CONST, 0, op::END]);
            }
            _ => {
                for (name, kind, index) in [
                    (FRAMES_EXPORT, op::EXPORT_MEMORY, self.frames_memory),
                    (DEPTH_EXPORT, op::EXPORT_GLOBAL, self.depth_global),
                ] {
                    leb_u32(&mut out, name.len() as u32);
                    out.extend_from_slice(name.as_bytes());
                    out.push(kind);
                    leb_u32(&mut out, index);
                }
            }
        }
        Ok(out)
    }
}

/// The type section with the block types the wrapped functions need appended.
fn with_types(section: &Section<'_>, types: &[Vec<ValType>]) -> Result<Vec<u8>> {
    let mut reader = section.reader();
    let count = reader.read_var_u32()?;
    let at = reader.original_position().saturating_sub(section.offset);
    let added = u32::try_from(types.len()).map_err(|_| malformed("too many types"))?;
    let mut out = Vec::with_capacity(section.payload.len().saturating_add(64));
    leb_u32(
        &mut out,
        count
            .checked_add(added)
            .ok_or_else(|| malformed("too many types"))?,
    );
    out.extend_from_slice(section.payload.get(at..).unwrap_or_default());
    for results in types {
        out.extend_from_slice(&[op::FUNC_TYPE, 0]);
        leb_u32(&mut out, results.len() as u32);
        for ty in results {
            out.push(value_type(*ty)?);
        }
    }
    Ok(out)
}

/// The one-byte encoding of a value type a block may produce.
fn value_type(ty: ValType) -> Result<u8> {
    Ok(match ty {
        ValType::I32 => 0x7f,
        ValType::I64 => 0x7e,
        ValType::F32 => 0x7d,
        ValType::F64 => 0x7c,
        ValType::V128 => 0x7b,
        ValType::Ref(RefType::FUNCREF) => 0x70,
        ValType::Ref(RefType::EXTERNREF) => 0x6f,
        ValType::Ref(_) => return Err(NotInstrumented::Unsupported("typed references")),
    })
}

fn push_section(out: &mut Vec<u8>, id: u8, payload: &[u8]) {
    out.push(id);
    leb_u32(out, payload.len() as u32);
    out.extend_from_slice(payload);
}

fn leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Rewrites the code section.
struct Rewriter<'m> {
    module: &'m Module,
    bytes: &'m [u8],
    frames_memory: u32,
    depth_global: u32,
    /// Result lists of the block types appended to the type section, in order.
    new_types: &'m mut Vec<Vec<ValType>>,
    code: &'m mut CodeMap,
}

impl Rewriter<'_> {
    fn code_section(&mut self, section: &Section<'_>) -> Result<Vec<u8>> {
        let mut reader = section.reader();
        let count = reader.read_var_u32()?;
        if count as usize != self.module.functions.len() {
            return Err(malformed("function and code section counts differ"));
        }
        let mut out = Vec::with_capacity(section.payload.len().saturating_mul(5) / 4);
        leb_u32(&mut out, count);
        let mut body = Vec::new();
        for &ty in &self.module.functions {
            let size = reader.read_var_u32()? as usize;
            let start = reader.original_position();
            let bytes = reader.read_bytes(size)?;
            let function = FunctionBody::new(BinaryReader::new(bytes, start));
            let signature = self
                .module
                .types
                .get(ty as usize)
                .and_then(Option::as_ref)
                .ok_or(NotInstrumented::Unsupported(
                    "a function of a non-function type",
                ))?;
            body.clear();
            self.body(&function, signature, &mut body)?;
            leb_u32(
                &mut out,
                u32::try_from(body.len()).map_err(|_| malformed("body too large"))?,
            );
            out.extend_from_slice(&body);
            let end = start.saturating_add(size);
            self.code.bodies.push((
                u32::try_from(start).map_err(|_| malformed("module too large"))?,
                u32::try_from(end).map_err(|_| malformed("module too large"))?,
            ));
        }
        if !reader.eof() {
            return Err(malformed("bytes after the last function body"));
        }
        Ok(out)
    }

    /// Rewrites one function body into `out`.
    fn body(
        &mut self,
        function: &FunctionBody<'_>,
        signature: &Signature,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let mut locals = function.get_locals_reader()?;
        let groups = locals.get_count();
        let mut declared = u64::from(signature.params);
        let groups_start = locals.original_position();
        for _ in 0..groups {
            let (count, _) = locals.read()?;
            declared = declared.saturating_add(u64::from(count));
        }
        let code_start = locals.original_position();
        let frame = u32::try_from(declared).map_err(|_| malformed("too many locals"))?;

        leb_u32(
            out,
            groups
                .checked_add(1)
                .ok_or_else(|| malformed("too many locals"))?,
        );
        out.extend_from_slice(
            self.bytes
                .get(groups_start..code_start)
                .ok_or_else(|| malformed("locals"))?,
        );
        out.extend_from_slice(&[1, op::I32]);
        // Entry: s = depth; frames[s] = BODY; depth = s + 4.
        out.push(op::GLOBAL_GET);
        leb_u32(out, self.depth_global);
        out.push(op::LOCAL_TEE);
        leb_u32(out, frame);
        self.store_slot(out, None, offset_i32(function.range().start)?);
        out.push(op::LOCAL_GET);
        leb_u32(out, frame);
        out.extend_from_slice(&[op::I32_CONST, SLOT_BYTES as u8, op::I32_ADD, op::GLOBAL_SET]);
        leb_u32(out, self.depth_global);
        let prologue = out.len();

        let mut operators = function.get_operators_reader()?;
        let mut depth: u32 = 0;
        let mut wrap = false;
        let mut ended = false;
        // The original's bytes are copied in runs, up to each instruction the rewriter
        // writes something before: most functions have few such places.
        let mut copied = code_start;
        let mut copy_to = |out: &mut Vec<u8>, end: usize| -> Result<()> {
            let run = self
                .bytes
                .get(copied..end)
                .ok_or_else(|| malformed("operator"))?;
            out.extend_from_slice(run);
            copied = end;
            Ok(())
        };
        while !operators.eof() {
            if ended {
                return Err(malformed("operators after the function's end"));
            }
            let (operator, at) = operators.read_with_offset()?;
            match operator {
                Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                    depth = depth.saturating_add(1);
                }
                Operator::End => match depth.checked_sub(1) {
                    Some(outer) => depth = outer,
                    None => {
                        // The body's own end is written after the pop, below.
                        copy_to(out, at)?;
                        ended = true;
                    }
                },
                Operator::Br { relative_depth } | Operator::BrIf { relative_depth } => {
                    wrap |= relative_depth == depth;
                }
                Operator::BrTable { targets } => {
                    wrap |= targets.default() == depth;
                    for target in targets.targets() {
                        wrap |= target? == depth;
                    }
                }
                Operator::Call { .. }
                | Operator::CallIndirect { .. }
                | Operator::CallRef { .. } => {
                    copy_to(out, at)?;
                    self.store_slot(out, Some(frame), offset_i32(at)?);
                }
                Operator::Return
                | Operator::ReturnCall { .. }
                | Operator::ReturnCallIndirect { .. }
                | Operator::ReturnCallRef { .. } => {
                    copy_to(out, at)?;
                    self.pop(out, frame);
                }
                Operator::Try { .. }
                | Operator::TryTable { .. }
                | Operator::Catch { .. }
                | Operator::CatchAll
                | Operator::Delegate { .. }
                | Operator::Throw { .. }
                | Operator::ThrowRef
                | Operator::Rethrow { .. } => {
                    return Err(NotInstrumented::Unsupported("exception handling"));
                }
                Operator::BrOnNull { .. }
                | Operator::BrOnNonNull { .. }
                | Operator::BrOnCast { .. }
                | Operator::BrOnCastFail { .. } => {
                    return Err(NotInstrumented::Unsupported("typed-reference branches"));
                }
                ref other => self.check_operator(other)?,
            }
        }
        if !ended {
            return Err(malformed("a function body without its end"));
        }
        if wrap {
            let block_type = self.block_type(&signature.results)?;
            let mut opener = Vec::with_capacity(8);
            opener.push(op::BLOCK);
            opener.extend_from_slice(&block_type);
            out.splice(prologue..prologue, opener);
            out.push(op::END);
        }
        self.pop(out, frame);
        out.push(op::END);
        Ok(())
    }

    /// `frames[s] = value`, with `s` from local `frame`, or from the stack when `None`.
    fn store_slot(&self, out: &mut Vec<u8>, frame: Option<u32>, value: i32) {
        if let Some(frame) = frame {
            out.push(op::LOCAL_GET);
            leb_u32(out, frame);
        }
        out.push(op::I32_CONST);
        leb_i64(out, i64::from(value));
        out.push(op::I32_STORE);
        if self.frames_memory == 0 {
            out.push(op::ALIGN_4);
        } else {
            out.push(op::ALIGN_4 | op::MEMORY_INDEX_FLAG);
            leb_u32(out, self.frames_memory);
        }
        out.push(0);
    }

    /// `depth = s`.
    fn pop(&self, out: &mut Vec<u8>, frame: u32) {
        out.push(op::LOCAL_GET);
        leb_u32(out, frame);
        out.push(op::GLOBAL_SET);
        leb_u32(out, self.depth_global);
    }

    /// The encoded block type producing `results`.
    fn block_type(&mut self, results: &[ValType]) -> Result<Vec<u8>> {
        match results {
            [] => Ok(alloc::vec![op::EMPTY_BLOCK]),
            [one] => Ok(alloc::vec![value_type(*one)?]),
            many => {
                let known = self.module.types.len();
                let position = match self.new_types.iter().position(|t| t.as_slice() == many) {
                    Some(position) => position,
                    None => {
                        self.new_types.push(many.to_vec());
                        self.new_types.len().saturating_sub(1)
                    }
                };
                let index = u32::try_from(known.saturating_add(position))
                    .map_err(|_| malformed("too many types"))?;
                let mut out = Vec::with_capacity(5);
                // A type index as a block type is a positive signed LEB128 (s33).
                leb_i64(&mut out, i64::from(index));
                Ok(out)
            }
        }
    }

    /// Refuses operators that name the appended memory or global: they are invalid in the
    /// original and must not become valid.
    fn check_operator(&self, operator: &Operator<'_>) -> Result<()> {
        use Operator as O;
        let (memories, globals) = (self.frames_memory, self.depth_global);
        let in_range = match operator {
            O::I32Load { memarg }
            | O::I64Load { memarg }
            | O::F32Load { memarg }
            | O::F64Load { memarg }
            | O::I32Load8S { memarg }
            | O::I32Load8U { memarg }
            | O::I32Load16S { memarg }
            | O::I32Load16U { memarg }
            | O::I64Load8S { memarg }
            | O::I64Load8U { memarg }
            | O::I64Load16S { memarg }
            | O::I64Load16U { memarg }
            | O::I64Load32S { memarg }
            | O::I64Load32U { memarg }
            | O::I32Store { memarg }
            | O::I64Store { memarg }
            | O::F32Store { memarg }
            | O::F64Store { memarg }
            | O::I32Store8 { memarg }
            | O::I32Store16 { memarg }
            | O::I64Store8 { memarg }
            | O::I64Store16 { memarg }
            | O::I64Store32 { memarg } => memarg.memory < memories,
            O::MemorySize { mem }
            | O::MemoryGrow { mem }
            | O::MemoryFill { mem }
            | O::MemoryDiscard { mem }
            | O::MemoryInit { mem, .. } => *mem < memories,
            O::MemoryCopy { dst_mem, src_mem } => *dst_mem < memories && *src_mem < memories,
            O::GlobalGet { global_index } | O::GlobalSet { global_index } => {
                *global_index < globals
            }
            // Atomics and SIMD also take memory indices, but the interpreter refuses both
            // proposals (and wasmparser, built without `simd`, does not even decode SIMD).
            _ => true,
        };
        if in_range {
            Ok(())
        } else {
            Err(NotInstrumented::InvalidIndex)
        }
    }
}

fn leb_i64(out: &mut Vec<u8>, mut value: i64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        let done = (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A module offset as the `i32.const` that stores it (modules are far below 2 GiB).
fn offset_i32(offset: usize) -> Result<i32> {
    i32::try_from(offset).map_err(|_| malformed("module too large"))
}
