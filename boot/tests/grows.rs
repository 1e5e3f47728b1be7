//! `memory.grow` and `table.grow` in a loop cannot overflow the kernel stack. Under wasmi's
//! tail-call dispatch these are the two instruction handlers that call the next one instead
//! of jumping to it, so each executed grow leaves a native frame until the interpreter stops
//! (native wasmi dies of a stack overflow after ~50 000 failed grows in a loop). The kernel
//! charges them the most fuel an operator can cost, which bounds how many run between two
//! stops (`kernel/src/wasm.rs`, `GROW_FUEL`). Without that, these runs end in a double fault
//! (status 71).

mod common;

use std::fs;

use common::wasm::{FD_WRITE, NULLARY, PROC_EXIT, mem_arg, preview1_imports};
use common::{Scratch, cella};
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataSection, ExportKind, ExportSection, Function,
    FunctionSection, HeapType, Instruction, MemorySection, MemoryType, Module, RefType,
    TableSection, TableType, ValType,
};

/// Failed grows of each kind in one run: 90 times what overflowed a 1 MiB kernel stack.
const GROWS: i32 = 500_000;
/// What the program prints after its loops.
const DONE: &[u8] = b"grown\n";

/// A loop of `GROWS` failing `memory.grow 5` (the memory's maximum is 2 pages) or
/// `table.grow` by 5 (the table's maximum is 2).
fn grow_loop(body: &mut Function, memory: bool) {
    use Instruction as I;
    body.instruction(&I::I32Const(0))
        .instruction(&I::LocalSet(0))
        .instruction(&I::Loop(BlockType::Empty));
    if memory {
        body.instruction(&I::I32Const(5))
            .instruction(&I::MemoryGrow(0));
    } else {
        body.instruction(&I::RefNull(HeapType::FUNC))
            .instruction(&I::I32Const(5))
            .instruction(&I::TableGrow(0));
    }
    // A failed grow returns -1: anything else ends the program with 1.
    body.instruction(&I::I32Const(-1))
        .instruction(&I::I32Ne)
        .instruction(&I::If(BlockType::Empty))
        .instruction(&I::I32Const(1))
        .instruction(&I::Call(PROC_EXIT))
        .instruction(&I::End)
        .instruction(&I::LocalGet(0))
        .instruction(&I::I32Const(1))
        .instruction(&I::I32Add)
        .instruction(&I::LocalTee(0))
        .instruction(&I::I32Const(GROWS))
        .instruction(&I::I32LtU)
        .instruction(&I::BrIf(0))
        .instruction(&I::End);
}

/// The program: with `in_start`, the loops run in the wasm start function (inside
/// instantiation, on bounded fuel) instead of `_start`.
fn module(in_start: bool) -> Vec<u8> {
    use Instruction as I;
    let (types, imports) = preview1_imports();
    let mut functions = FunctionSection::new();
    functions.function(NULLARY); // 2: the grows
    functions.function(NULLARY); // 3: _start
    let mut tables = TableSection::new();
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        minimum: 1,
        maximum: Some(2),
        table64: false,
        shared: false,
    });
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: Some(2),
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut exports = ExportSection::new();
    exports.export("_start", ExportKind::Func, 3);
    exports.export("memory", ExportKind::Memory, 0);

    let mut grows = Function::new([(1, ValType::I32)]);
    grow_loop(&mut grows, true);
    grow_loop(&mut grows, false);
    grows.instruction(&I::End);
    // _start: [the grows,] then fd_write(1, {16, len}, 1, 8) and exit with its result.
    let mut start = Function::new([]);
    if !in_start {
        start.instruction(&I::Call(2));
    }
    start
        .instruction(&I::I32Const(0))
        .instruction(&I::I32Const(16))
        .instruction(&I::I32Store(mem_arg(0, 4)))
        .instruction(&I::I32Const(0))
        .instruction(&I::I32Const(DONE.len() as i32))
        .instruction(&I::I32Store(mem_arg(4, 4)))
        .instruction(&I::I32Const(1))
        .instruction(&I::I32Const(0))
        .instruction(&I::I32Const(1))
        .instruction(&I::I32Const(8))
        .instruction(&I::Call(FD_WRITE))
        .instruction(&I::Call(PROC_EXIT))
        .instruction(&I::End);
    let mut code = CodeSection::new();
    code.function(&grows);
    code.function(&start);
    let mut data = DataSection::new();
    data.active(0, &ConstExpr::i32_const(16), DONE.iter().copied());

    let mut module = Module::new();
    module
        .section(&types)
        .section(&imports)
        .section(&functions)
        .section(&tables)
        .section(&memories)
        .section(&exports);
    if in_start {
        module.section(&wasm_encoder::StartSection { function_index: 2 });
    }
    module.section(&code).section(&data);
    module.finish()
}

#[test]
fn failing_grows_in_a_loop_run_to_the_end() {
    let scratch = Scratch::new("grows");
    let path = scratch.path("grows.wasm");
    fs::write(&path, module(false)).unwrap();
    let run = cella(&[path.to_str().unwrap()]);
    assert_eq!(
        (run.status, run.stdout.as_slice()),
        (0, DONE),
        "{}",
        run.stderr
    );
}

#[test]
fn failing_grows_in_a_start_function_run_out_of_fuel_not_stack() {
    let scratch = Scratch::new("grows-start");
    let path = scratch.path("grows.wasm");
    fs::write(&path, module(true)).unwrap();
    let run = cella(&[path.to_str().unwrap()]);
    // Instantiation's fuel ends the start function long before its loops do: a trap of the
    // program, never a kernel failure.
    assert_eq!(run.status, 134, "{}", run.stderr);
    assert!(run.stderr.contains("fuel"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}
