//! The instrumented module against the original, both run by wasmi (the kernel's
//! interpreter, hosted): same results, a balanced shadow stack after every call, and the
//! frames a trap leaves behind.

use cella_backtrace::names::{self, Names};
use cella_backtrace::{
    CodeMap, DEFAULT_MAX_FRAMES, DEPTH_EXPORT, FRAMES_EXPORT, Innermost, NotInstrumented, frames,
    instrument, write_backtrace,
};
use wasmi::{Caller, Config, Engine, Instance, Linker, Module, Store, Val};

/// The kernel's limit of nested calls.
const MAX_FRAMES: u32 = 8192;

struct Run {
    store: Store<()>,
    instance: Instance,
}

fn engine(depth: usize) -> Engine {
    let mut config = Config::default();
    config.set_max_recursion_depth(depth);
    Engine::new(&config)
}

fn start(engine: &Engine, bytes: &[u8]) -> Run {
    let module = Module::new(engine, bytes).expect("module compiles");
    let mut store = Store::new(engine, ());
    let mut linker = Linker::new(engine);
    linker
        .func_wrap(
            "host",
            "fail",
            |_: Caller<'_, ()>, code: i32| -> Result<(), wasmi::Error> {
                Err(wasmi::Error::new(format!("host call failed with {code}")))
            },
        )
        .unwrap();
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .expect("instantiates");
    Run { store, instance }
}

impl Run {
    fn call(&mut self, name: &str, args: &[Val], results: usize) -> Result<Vec<Val>, String> {
        let func = self.instance.get_func(&self.store, name).expect("export");
        let mut out = vec![Val::I32(0); results];
        func.call(&mut self.store, args, &mut out)
            .map(|()| out)
            .map_err(|error| error.to_string())
    }

    fn depth(&self) -> u32 {
        let global = self
            .instance
            .get_global(&self.store, DEPTH_EXPORT)
            .expect("depth global");
        match global.get(&self.store) {
            Val::I32(depth) => depth as u32,
            other => panic!("depth is {other:?}"),
        }
    }

    fn backtrace(&self, code: &CodeMap, names: &[u8], innermost: Innermost) -> String {
        let memory = self
            .instance
            .get_memory(&self.store, FRAMES_EXPORT)
            .expect("frames");
        let stack = frames(memory.data(&self.store), self.depth(), code, innermost);
        let mut out = String::new();
        write_backtrace(&mut out, &stack, Names::new(names), DEFAULT_MAX_FRAMES).unwrap();
        out
    }
}

/// The payload of the module's `name` section.
fn name_section(bytes: &[u8]) -> Vec<u8> {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let wasmparser::Payload::CustomSection(section) = payload.unwrap()
            && section.name() == names::SECTION
        {
            return section.data().to_vec();
        }
    }
    Vec::new()
}

/// Offsets of the `call` instructions in function `index` (a defined function, no imports).
fn call_offsets(bytes: &[u8], defined: usize) -> Vec<u32> {
    let mut bodies = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
            bodies.push(body);
        }
    }
    let mut offsets = Vec::new();
    let mut reader = bodies[defined].get_operators_reader().unwrap();
    while !reader.eof() {
        let (op, at) = reader.read_with_offset().unwrap();
        if matches!(op, wasmparser::Operator::Call { .. }) {
            offsets.push(at as u32);
        }
    }
    offsets
}

const PROGRAM: &str = r#"
(module $prog
  (import "host" "fail" (func $fail (param i32)))
  (type $binary (func (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $counter (export "counter") (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 0) $add $sub)
  (data (i32.const 16) "cella")
  (start $init)
  (func $init (global.set $counter (i32.const 100)))
  (func $add (type $binary) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binary) (i32.sub (local.get 0) (local.get 1)))
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  ;; Leaves through a branch to its own label, a br_if, a br_table, a return, or its end.
  (func $exits (export "exits") (param i32) (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (br_if 0 (i32.const 10) (i32.eq (local.get 0) (i32.const 0)))
    (drop (call $fib (i32.const 5)))
    (drop (block $a (result i32)
      (drop (block $b (result i32) (br_table $a $b 2 (i32.const 13) (i32.sub (local.get 0) (i32.const 4)))))
      (i32.const 14)))
    (if (i32.eq (local.get 0) (i32.const 1)) (then (return (i32.const 11))))
    (i32.const 12)
    (br 0)
  )
  (func $pair (export "pair") (param i32) (result i32 i64)
    (local.get 0) (i64.const 7)
    (br_if 0 (i32.eqz (local.get 0)))
    (drop) (drop)
    (i32.const 1) (i64.const 2))
  (func $indirect (export "indirect") (param i32 i32 i32) (result i32)
    (call_indirect (type $binary) (local.get 0) (local.get 1) (local.get 2)))
  (func $tail (export "tail") (param i32) (result i32)
    (return_call $fib (local.get 0)))
  (func $peek (export "peek") (result i32) (i32.load8_u (i32.const 16)))
  ;; Traps in $inner, two calls down; or in the host, through $to_host.
  (func $inner (param i32) (result i32)
    (if (local.get 0) (then (call $fail (local.get 0))))
    (unreachable))
  (func $middle (param i32) (result i32) (i32.add (i32.const 1) (call $inner (local.get 0))))
  (func $outer (export "outer") (param i32) (result i32) (call $middle (local.get 0)))
  (func $deep (export "deep") (param i32) (result i32)
    (i32.add (i32.const 1) (call $deep (local.get 0))))
)
"#;

fn program() -> Vec<u8> {
    wat::parse_str(PROGRAM).unwrap()
}

#[test]
fn an_instrumented_module_computes_what_the_original_does() {
    let original = program();
    let instrumented = instrument(&original, MAX_FRAMES).unwrap().module;
    let engine = engine(1000);
    let mut before = start(&engine, &original);
    let mut after = start(&engine, &instrumented);
    let calls: &[(&str, Vec<Val>, usize)] = &[
        ("fib", vec![Val::I32(15)], 1),
        ("exits", vec![Val::I32(0)], 1),
        ("exits", vec![Val::I32(1)], 1),
        ("exits", vec![Val::I32(2)], 1),
        ("exits", vec![Val::I32(3)], 1),
        ("exits", vec![Val::I32(4)], 1),
        ("exits", vec![Val::I32(5)], 1),
        ("exits", vec![Val::I32(6)], 1),
        ("pair", vec![Val::I32(0)], 2),
        ("pair", vec![Val::I32(5)], 2),
        ("indirect", vec![Val::I32(7), Val::I32(3), Val::I32(0)], 1),
        ("indirect", vec![Val::I32(7), Val::I32(3), Val::I32(1)], 1),
        ("tail", vec![Val::I32(10)], 1),
        ("peek", vec![], 1),
    ];
    for (name, args, results) in calls {
        let expected = before.call(name, args, *results).unwrap();
        let got = after.call(name, args, *results).unwrap();
        assert_eq!(
            format!("{got:?}"),
            format!("{expected:?}"),
            "{name}{args:?}"
        );
        assert_eq!(
            after.depth(),
            0,
            "{name}{args:?} left frames on the shadow stack"
        );
    }
    assert_eq!(
        format!("{:?}", after.call("fib", &[Val::I32(20)], 1)),
        "Ok([I32(6765)])"
    );
    // The start function ran, and the program's own global and memory are where they were.
    let counter = |run: &Run| {
        run.instance
            .get_global(&run.store, "counter")
            .unwrap()
            .get(&run.store)
    };
    assert_eq!(
        format!("{:?}", counter(&before)),
        format!("{:?}", counter(&after))
    );
    let memory = after.instance.get_memory(&after.store, "memory").unwrap();
    assert_eq!(memory.data(&after.store).get(16..21), Some(&b"cella"[..]));
}

#[test]
fn a_trap_leaves_its_frames_with_names_and_call_offsets() {
    let original = program();
    let instrumented = instrument(&original, MAX_FRAMES).unwrap();
    let engine = engine(1000);
    let mut run = start(&engine, &instrumented.module);
    let error = run.call("outer", &[Val::I32(0)], 1).unwrap_err();
    assert!(error.contains("unreachable"), "{error}");
    let names = name_section(&original);
    let backtrace = run.backtrace(&instrumented.code, &names, Innermost::InFunction);
    // Defined functions: init 0, add 1, sub 2, fib 3, exits 4, pair 5, indirect 6, tail 7,
    // peek 8, inner 9, middle 10, outer 11.
    let middle_call = call_offsets(&original, 10)[0];
    let outer_call = call_offsets(&original, 11)[0];
    assert_eq!(
        backtrace,
        format!(
            "wasm backtrace:\n    0: prog!inner\n    1: {middle_call:#8x} - prog!middle\n    2: {outer_call:#8x} - prog!outer"
        )
    );
}

#[test]
fn a_trap_in_a_host_call_shows_the_call() {
    let original = program();
    let instrumented = instrument(&original, MAX_FRAMES).unwrap();
    let engine = engine(1000);
    let mut run = start(&engine, &instrumented.module);
    let error = run.call("outer", &[Val::I32(3)], 1).unwrap_err();
    assert!(error.contains("host call failed with 3"), "{error}");
    let backtrace = run.backtrace(
        &instrumented.code,
        &name_section(&original),
        Innermost::AtCall,
    );
    let host_call = call_offsets(&original, 9)[0];
    let first = backtrace.lines().nth(1).unwrap();
    assert_eq!(first, format!("    0: {host_call:#8x} - prog!inner"));
    assert_eq!(backtrace.lines().count(), 4, "{backtrace}");
}

#[test]
fn stack_exhaustion_prints_both_ends_and_the_count_between() {
    let original = program();
    let instrumented = instrument(&original, MAX_FRAMES).unwrap();
    let engine = engine(300);
    let mut run = start(&engine, &instrumented.module);
    let error = run.call("deep", &[Val::I32(0)], 1).unwrap_err();
    assert!(error.contains("call stack exhausted"), "{error}");
    let frames_left = run.depth() / 4;
    assert!((290..=300).contains(&frames_left), "{frames_left} frames");
    let backtrace = run.backtrace(
        &instrumented.code,
        &name_section(&original),
        Innermost::AtCall,
    );
    let lines: Vec<&str> = backtrace.lines().collect();
    let deep_call = call_offsets(&original, 12)[0];
    // Header, 15 innermost, the elision, 5 outermost.
    assert_eq!(lines.len(), 1 + 15 + 1 + 5, "{backtrace}");
    assert_eq!(lines[1], format!("    0: {deep_call:#8x} - prog!deep"));
    assert_eq!(
        lines[16],
        format!("         ... {} frames elided ...", frames_left - 20)
    );
    let last = frames_left - 1;
    assert_eq!(
        lines[21],
        format!("  {last:>3}: {deep_call:#8x} - prog!deep")
    );
}

#[test]
fn without_a_name_section_frames_are_numbered() {
    let original = program();
    let instrumented = instrument(&original, MAX_FRAMES).unwrap();
    let engine = engine(1000);
    let mut run = start(&engine, &instrumented.module);
    run.call("outer", &[Val::I32(0)], 1).unwrap_err();
    let backtrace = run.backtrace(&instrumented.code, &[], Innermost::InFunction);
    // One import: defined function 9 ($inner) is function 10.
    assert!(
        backtrace.starts_with("wasm backtrace:\n    0: <unknown>!<wasm function 10>\n"),
        "{backtrace}"
    );
}

#[test]
fn a_module_without_memory_globals_or_exports_gets_them() {
    let original = wat::parse_str(
        r#"(module (func $f (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
                   (func (export "run") (param i32) (result i32) (call $f (local.get 0))))"#,
    )
    .unwrap();
    let bare = wat::parse_str(r#"(module (func $f (unreachable)) (start $f))"#).unwrap();
    let instrumented = instrument(&bare, MAX_FRAMES).unwrap();
    let engine = engine(1000);
    Module::new(&engine, &instrumented.module).expect("valid without any section to extend");
    let instrumented = instrument(&original, MAX_FRAMES).unwrap();
    let mut run = start(&engine, &instrumented.module);
    assert_eq!(
        format!("{:?}", run.call("run", &[Val::I32(1)], 1)),
        "Ok([I32(1)])"
    );
    let error = run.call("run", &[Val::I32(0)], 1).unwrap_err();
    assert!(
        error.contains("divide by zero") || error.contains("division by zero"),
        "{error}"
    );
    assert_eq!(run.depth(), 8);
}

#[test]
fn an_index_only_the_additions_would_make_valid_is_refused() {
    let engine = engine(1000);
    for (what, text) in [
        (
            "load from memory 1",
            r#"(module (memory 1) (func (drop (i32.load (i32.const 0)))))"#,
        ),
        (
            "global 1",
            r#"(module (global i32 (i32.const 0)) (func (drop (global.get 0))))"#,
        ),
    ] {
        let valid = wat::parse_str(text).unwrap();
        assert!(instrument(&valid, MAX_FRAMES).is_ok(), "{what}");
        // The same module, with its index bumped by one: invalid, and it must stay so.
        let bumped = text
            .replace("(i32.load (i32.const 0))", "(i32.load 1 (i32.const 0))")
            .replace("(global.get 0)", "(global.get 1)");
        let invalid = wat::Parser::new().parse_str(None, &bumped);
        let Ok(invalid) = invalid else { continue };
        assert!(
            Module::new(&engine, &invalid).is_err(),
            "{what}: the original is invalid"
        );
        assert_eq!(
            instrument(&invalid, MAX_FRAMES).unwrap_err(),
            NotInstrumented::InvalidIndex,
            "{what}"
        );
    }
    let export = wat::parse_str(r#"(module (memory 1) (export "m" (memory 0)))"#).unwrap();
    let mut bumped = export.clone();
    // The export's memory index is the module's last byte.
    *bumped.last_mut().unwrap() = 1;
    assert!(Module::new(&engine, &bumped).is_err());
    assert_eq!(
        instrument(&bumped, MAX_FRAMES).unwrap_err(),
        NotInstrumented::InvalidIndex
    );
}

#[test]
fn a_reserved_export_name_or_garbage_is_refused() {
    let taken = wat::parse_str(format!(r#"(module (func (export "{DEPTH_EXPORT}")))"#)).unwrap();
    assert!(matches!(
        instrument(&taken, MAX_FRAMES),
        Err(NotInstrumented::Unsupported(_))
    ));
    for garbage in [
        &b""[..],
        b"\0asm",
        b"\0asm\x01\0\0\0\x0a\x05\x01",
        b"not wasm at all",
    ] {
        assert!(instrument(garbage, MAX_FRAMES).is_err());
    }
    // Every prefix of a real module is refused or instrumented, never a panic.
    let original = program();
    for end in 0..original.len() {
        let _ = instrument(&original[..end], MAX_FRAMES);
    }
}

/// How a generated module's `_start` ended: its result or trap, and its memory's bytes.
#[derive(Debug, PartialEq)]
enum Ending {
    Finished(String, Vec<u8>),
    OutOfFuel,
    NotRun(String),
}

fn run_generated(bytes: &[u8], fuel: u64) -> (Ending, Option<u32>) {
    let mut config = Config::default();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let module = match Module::new(&engine, bytes) {
        Ok(module) => module,
        Err(error) => return (Ending::NotRun(error.to_string()), None),
    };
    let mut store = Store::new(&engine, ());
    store.set_fuel(fuel).unwrap();
    let mut linker = Linker::<()>::new(&engine);
    for import in module.imports() {
        if let wasmi::ExternType::Func(ty) = import.ty() {
            let results: Vec<Val> = ty
                .results()
                .iter()
                .map(|ty| Val::default_for_ty(*ty))
                .collect();
            linker
                .func_new(
                    import.module(),
                    import.name(),
                    ty.clone(),
                    move |_, _, out| {
                        out.clone_from_slice(&results);
                        Ok(())
                    },
                )
                .unwrap();
        }
    }
    let instance = match linker.instantiate_and_start(&mut store, &module) {
        Ok(instance) => instance,
        Err(error) if error.as_trap_code() == Some(wasmi::TrapCode::OutOfFuel) => {
            return (Ending::OutOfFuel, None);
        }
        Err(error) => return (Ending::NotRun(error.to_string()), None),
    };
    let result = match instance.get_func(&store, "_start") {
        Some(start) => start.call(&mut store, &[], &mut []),
        None => Ok(()),
    };
    let ending = match result {
        Err(error) if error.as_trap_code() == Some(wasmi::TrapCode::OutOfFuel) => Ending::OutOfFuel,
        result => {
            let memory = instance
                .get_memory(&store, "memory")
                .map(|memory| memory.data(&store).to_vec())
                .unwrap_or_default();
            Ending::Finished(format!("{:?}", result.map_err(|e| e.to_string())), memory)
        }
    };
    let depth = instance
        .get_global(&store, DEPTH_EXPORT)
        .and_then(|global| global.get(&store).i32())
        .map(|depth| depth as u32);
    (ending, depth)
}

#[test]
fn generated_modules_behave_the_same_instrumented() {
    const FUEL: u64 = 200_000;
    let (mut compared, mut returned) = (0, 0);
    for seed in 0..150 {
        let Ok(original) = cella_smith::module(seed) else {
            continue;
        };
        let instrumented = match instrument(&original, MAX_FRAMES) {
            Ok(instrumented) => instrumented.module,
            Err(why) => panic!("seed {seed}: a module wasmi accepts was refused: {why}"),
        };
        let (before, _) = run_generated(&original, FUEL);
        // Each call costs a few more instructions instrumented: more fuel for the same work.
        let (after, depth) = run_generated(&instrumented, 4 * FUEL);
        match (&before, &after) {
            (Ending::OutOfFuel, _) | (_, Ending::OutOfFuel) => continue,
            (Ending::Finished(result, _), Ending::Finished(..)) => {
                compared += 1;
                if result == "Ok(())" {
                    returned += 1;
                    assert_eq!(
                        depth,
                        Some(0),
                        "seed {seed}: frames left after _start returned"
                    );
                }
            }
            _ => {}
        }
        assert_eq!(before, after, "seed {seed}");
    }
    assert!(
        compared >= 50 && returned >= 5,
        "{compared} compared, {returned} returned"
    );
}

#[test]
fn only_the_name_section_of_the_custom_sections_is_kept() {
    let original =
        wat::parse_str(r#"(module $m (@custom "junk" "debug info") (func $f))"#).unwrap();
    let customs = |bytes: &[u8]| -> Vec<String> {
        wasmparser::Parser::new(0)
            .parse_all(bytes)
            .filter_map(|payload| match payload.unwrap() {
                wasmparser::Payload::CustomSection(section) => Some(section.name().to_string()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(customs(&original), ["junk", "name"]);
    let instrumented = instrument(&original, MAX_FRAMES).unwrap().module;
    assert_eq!(customs(&instrumented), ["name"]);
    assert_eq!(name_section(&instrumented), name_section(&original));
}
